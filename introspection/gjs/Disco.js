// GJS overrides for Disco: tensors as Float32Array.
//
// GJS finds overrides on imports.overrides.searchPath; put this folder first
// before Disco is first imported:
//
//   imports.overrides.searchPath.unshift('/usr/local/share/disco-1.0/gjs');
//   const {Disco} = imports.gi;
//   const t = Disco.Tensor.newFromFloat32Array([2, 3], new Float32Array(6));
//   const f = t.toFloat32Array();   // Float32Array of 6 values
//   t.shape                          // [2, 3]

/* exported _init */
var Disco;

function _init() {
    Disco = this;
    const Tensor = Disco.Tensor;

    // A host tensor holding a copy of @array's values, in @shape.
    Tensor.newFromFloat32Array = function (shape, array) {
        if (!(array instanceof Float32Array))
            throw new TypeError('Disco.Tensor.newFromFloat32Array: expected a Float32Array, got ' +
                (array?.constructor?.name ?? typeof array));
        const count = shape.reduce((a, b) => a * b, 1);
        if (count !== array.length)
            throw new RangeError(`Disco.Tensor.newFromFloat32Array: shape ${shape.join('×')} ` +
                `holds ${count} values, the array ${array.length}`);
        return Tensor.new_from_data(shape,
            new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    };
    Tensor.new_from_float32_array = Tensor.newFromFloat32Array;

    // The values as a Float32Array (one copy, out of the tensor's memory).
    Tensor.prototype.toFloat32Array = function () {
        const bytes = this.get_bytes().toArray();
        return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    };
    Tensor.prototype.to_float32_array = Tensor.prototype.toFloat32Array;

    Object.defineProperty(Tensor.prototype, 'shape', {
        get() {
            return this.get_shape();
        },
    });
    Tensor.prototype.toString = function () {
        const device = this.get_device() === Disco.Device.CPU ? 'cpu' : 'cuda';
        return `[Disco.Tensor ${this.shape_to_string()} float32 on ${device}]`;
    };
}
