#!/usr/bin/gjs
// GJS tests: everything issue #2 promises a JavaScript user. Exits non-zero
// on the first failed check.
imports.gi.versions.Disco = '1.0';
// The overrides (Float32Array in and out) from the source tree.
imports.overrides.searchPath.unshift(
    `${imports.gi.GLib.getenv('DISCO_SOURCE_ROOT') || '.'}/introspection/gjs`);
const {Disco, Gio, GLib, GObject} = imports.gi;

let checks = 0;
function check(condition, what) {
    checks++;
    if (!condition)
        throw new Error('check failed: ' + what);
}

// Tensors from and to typed arrays
const values = new Float32Array([0.5, -1, 2, 3, 4, 5]);
const tensor = Disco.Tensor.new_from_data([2, 3], new Uint8Array(values.buffer));
check(tensor.get_shape().join(',') === '2,3', 'shape');
const back = new Float32Array(tensor.get_bytes().toArray().buffer);
check(back.length === 6 && back.every((v, i) => v === values[i]), 'round trip');
check(tensor.get_values().join(',') === '0.5,-1,2,3,4,5', 'get_values');

// Float32Array in and out (the overrides)
const f32 = Disco.Tensor.newFromFloat32Array([3, 2], new Float32Array([1, 2, 3, 4, 5, 6.5]));
check(f32.shape.join(',') === '3,2', 'shape getter');
const asArray = f32.toFloat32Array();
check(asArray instanceof Float32Array && asArray.length === 6 && asArray[5] === 6.5,
    'toFloat32Array');
check(`${f32}` === '[Disco.Tensor 3×2 float32 on cpu]', 'toString ' + f32);
let badInput = null;
try {
    Disco.Tensor.newFromFloat32Array([2, 2], new Float32Array(3));
} catch (e) {
    badInput = e;
}
check(badInput instanceof RangeError && badInput.message.includes('holds 4 values, the array 3'),
    'wrong length ' + badInput);
badInput = null;
try {
    Disco.Tensor.newFromFloat32Array([2], [1, 2]);
} catch (e) {
    badInput = e;
}
check(badInput instanceof TypeError && badInput.message.includes('expected a Float32Array'),
    'not a Float32Array ' + badInput);

// The image of a tensor as PNG bytes
const png = tensor.render_png(Disco.Colormap.DIVERGING, NaN, NaN, 2).toArray();
check(png[1] === 0x50 && png[2] === 0x4e && png[3] === 0x47, 'PNG signature');
check(png[19] === 6 && png[23] === 4, 'PNG size 6×4');

// A wrong byte count is a Disco error
let caught = null;
try {
    Disco.Tensor.new_from_data([2, 2], new Uint8Array(12));
} catch (e) {
    caught = e;
}
check(caught !== null && caught.matches(Disco.error_quark(), Disco.Error.SHAPE), 'shape error');

// A node type written in JavaScript
const Offset = GObject.registerClass({
    GTypeName: 'TestJsOffset',
    Properties: {
        'amount': GObject.ParamSpec.double('amount', 'Amount', 'Added to every value',
            GObject.ParamFlags.READWRITE, -1000, 1000, 10),
    },
}, class Offset extends Disco.Node {
    vfunc_process(tick) {
        const x = this.get_input('input');
        const v = new Float32Array(x.get_bytes().toArray().buffer).map(a => a + this.amount);
        this.set_output('output', Disco.Tensor.new_from_data(x.get_shape(), new Uint8Array(v.buffer)));
        return Disco.FlowReturn.OK;
    }
});
Disco.Node.type_add_port(Offset.$gtype, Disco.PortDirection.INPUT, 'input', 0, 'any');
Disco.Node.type_add_port(Offset.$gtype, Disco.PortDirection.OUTPUT, 'output', 0, 'input + amount');
check(Disco.registry_register('js-offset', Offset.$gtype), 'register');
check(Disco.registry_list_names().includes('js-offset'), 'listed');
check(Disco.registry_list_names().includes('constant-source'), 'C types listed');

// Load from text with an override, set properties, follow signals, run
const text = '[src]\nnode = constant-source\nshape = 3\nvalue = 1\nticks = 4\nticks-per-epoch = 2\n' +
             '[off]\nnode = js-offset\ninput = src\n[log]\nnode = recorder\ninput = off\n';
const pipeline = Disco.Pipeline.new_from_string(text, ['off.amount=2']);
pipeline.get_node('src').step = 1.0;
const ticks = [];
const epochs = [];
pipeline.connect('tick', (p, tick) => ticks.push(tick.index));
pipeline.connect('epoch-finished', (p, epoch) => epochs.push(epoch));
pipeline.run(null);
check(ticks.join(',') === '0,1,2,3', 'ticks ' + ticks);
check(epochs.join(',') === '1,2', 'epochs ' + epochs);
// 3 values × ((1+2) + (2+2) + (3+2) + (4+2)) = 54
check(pipeline.get_node('log').sum === 54, 'sum ' + pipeline.get_node('log').sum);
const last = new Float32Array(pipeline.get_node('log').get_input('input').get_bytes().toArray().buffer);
check(last.every(v => v === 6), 'last tensor');

// Errors carry file:line
caught = null;
try {
    Disco.Pipeline.new_from_string('[a]\nnode = affine\ninput = b\n', null);
} catch (e) {
    caught = e;
}
check(caught !== null && caught.message.startsWith('<string>:3:'), 'located error');

// The example runs
const example = GLib.build_filenamev([GLib.getenv('DISCO_SOURCE_ROOT') || '.',
    'introspection', 'examples', 'example.js']);
const [ok, out, err, status] = GLib.spawn_command_line_sync(`gjs ${example}`);
check(ok && status === 0, 'example.js exits 0: ' + imports.byteArray.toString(err));

print(`ok: ${checks} checks`);
