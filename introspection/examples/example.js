#!/usr/bin/gjs
// Disco from JavaScript (GJS): list node types, build a pipeline in code,
// follow its progress, define a node type in JavaScript, and read tensors as
// typed arrays.
//
// Run from the build tree:  meson devenv -C build gjs ../introspection/examples/example.js
imports.gi.versions.Disco = '1.0';
// Disco's overrides (Float32Array in and out): beside this folder in the
// source tree, or installed in <datadir>/disco-1.0/gjs.
imports.overrides.searchPath.unshift(imports.gi.GLib.build_filenamev(
    [imports.gi.GLib.path_get_dirname(imports.system.programPath), '..', 'gjs']));
const {Disco, GLib, GObject} = imports.gi;

const Negate = GObject.registerClass({
    GTypeName: 'ExampleNegate',
}, class Negate extends Disco.Node {
    vfunc_process(tick) {
        const x = this.get_input('input');
        const values = x.toFloat32Array().map(v => -v);
        this.set_output('output', Disco.Tensor.newFromFloat32Array(x.shape, values));
        return Disco.FlowReturn.OK;
    }
});
Disco.Node.type_add_port(Negate.$gtype, Disco.PortDirection.INPUT, 'input', 0, 'any tensor');
Disco.Node.type_add_port(Negate.$gtype, Disco.PortDirection.OUTPUT, 'output', 0, '−input');
Disco.registry_register('negate', Negate.$gtype);

print('node types: ' + Disco.registry_list_names().join(', '));

const pipeline = new Disco.Pipeline();
const source = pipeline.make_node('constant-source', 'numbers');
source.shape = '2,2';
source.value = 1.0;
source.step = 1.0;
source.ticks = 4;
pipeline.make_node('negate', 'negated');
pipeline.link('negated.input', 'numbers');
pipeline.make_node('recorder', 'log');
pipeline.link('log.input', 'negated');
pipeline.set_node_property('pipeline.seed', '3');

pipeline.connect('tick', (p, tick) => print(`tick ${tick.index}`));
pipeline.run(null);

const last = pipeline.get_node('log').get_input('input');
const values = last.toFloat32Array();
print(`last tensor ${last.get_shape().join('×')}: ${Array.from(values).join(', ')}`);
// Last tick: 1 + 3 × 1 = 4, negated.
if (!values.every(v => v === -4))
    throw new Error('unexpected values ' + values);
print(`sum over the run: ${pipeline.get_node('log').sum}`);
