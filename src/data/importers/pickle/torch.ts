/**
 * The globals and persistent ids of torch.save's pickles, allowed on top of the allow-list
 * (./globals.ts) only when a checkpoint is read: the tensor rebuild functions, the storage
 * classes, and state_dict's OrderedDict (which carries a `_metadata` attribute, dropped).
 * Nothing here runs anything: a tensor comes out as a reference into a storage, whose bytes
 * the caller reads from the archive (zip format) or the end of the file (legacy format).
 */
import { PyDict, PickleError, expectInt, expectStr, expectTuple, isCallable, typeName, type PyCallable } from './values.js';

export type TorchDtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_CLASSES: Record<string, [TorchDtype, number]> = {
  FloatStorage: ['float32', 4],
  DoubleStorage: ['float64', 8],
  HalfStorage: ['float16', 2],
  BFloat16Storage: ['bfloat16', 2],
  LongStorage: ['int64', 8],
  IntStorage: ['int32', 4],
  ShortStorage: ['int16', 2],
  CharStorage: ['int8', 1],
  ByteStorage: ['uint8', 1],
  BoolStorage: ['bool', 1],
};

interface StorageClass extends PyCallable {
  dtype: TorchDtype;
  elementBytes: number;
}

/** One storage a tensor points into: `numel` elements under `key`. */
export interface TorchStorage {
  dtype: TorchDtype;
  elementBytes: number;
  key: string;
  numel: number;
}

/** A tensor as torch._utils._rebuild_tensor_v2 describes it: a strided view of a storage. */
export class TorchTensor {
  readonly typeName = 'torch.Tensor';

  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

/** state_dict() is an OrderedDict with a `_metadata` attribute (module versions): kept as a dict. */
class StateDict extends PyDict {
  setState(): void {}
}

const STATE_DICT: PyCallable = {
  qualName: 'collections.OrderedDict',
  call: () => new StateDict(),
  newObj: () => new StateDict(),
};

function ints(x: unknown, what: string): number[] {
  return expectTuple(x, what).map((v, i) => expectInt(v, `${what}[${i}]`));
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
const REBUILD_TENSOR: PyCallable = {
  qualName: 'torch._utils._rebuild_tensor_v2',
  call(args) {
    if (args.length < 4) throw new PickleError(`_rebuild_tensor_v2 takes at least 4 arguments, got ${args.length}`);
    const storage = args[0] as TorchStorage;
    if (typeof storage !== 'object' || storage === null || typeof storage.key !== 'string') {
      throw new PickleError(`_rebuild_tensor_v2: the storage is a ${typeName(args[0])}`);
    }
    const size = ints(args[2], 'tensor size');
    const stride = ints(args[3], 'tensor stride');
    if (size.length !== stride.length) throw new PickleError(`tensor size has ${size.length} dimensions, its stride ${stride.length}`);
    if (size.some((d) => d < 0) || stride.some((d) => d < 0)) throw new PickleError('tensor size and stride must not be negative');
    return new TorchTensor(storage, expectInt(args[1], 'tensor storage offset'), size, stride);
  },
};

/** _rebuild_parameter(data, requires_grad, backward_hooks): an nn.Parameter is its tensor here. */
const REBUILD_PARAMETER: PyCallable = {
  qualName: 'torch._utils._rebuild_parameter',
  call: (args) => {
    if (!(args[0] instanceof TorchTensor)) throw new PickleError(`_rebuild_parameter: the data is a ${typeName(args[0])}`);
    return args[0];
  },
};

/** The torch names a checkpoint may use (for UnpickleOptions.globals). */
export function torchGlobal(module: string, name: string): PyCallable | undefined {
  if (module === 'torch' && name in STORAGE_CLASSES) {
    const [dtype, elementBytes] = STORAGE_CLASSES[name]!;
    const cls: StorageClass = { qualName: `torch.${name}`, dtype, elementBytes };
    return cls;
  }
  if (module === 'torch._utils' && name === '_rebuild_tensor_v2') return REBUILD_TENSOR;
  if (module === 'torch._utils' && name === '_rebuild_parameter') return REBUILD_PARAMETER;
  if (module === 'collections' && name === 'OrderedDict') return STATE_DICT;
  return undefined;
}

/**
 * torch.save's persistent ids: ('storage', storage class, key, location, numel) in the zip
 * format, the same with a sixth item (a view, or None) in the legacy one. Views of another
 * storage (legacy files of tensors sharing memory) are refused.
 */
export function torchPersistentLoad(pid: unknown): TorchStorage {
  const t = expectTuple(pid, 'persistent id');
  if (t[0] !== 'storage' || t.length < 5) throw new PickleError(`persistent id ${JSON.stringify(typeName(pid))} is not a torch storage`);
  const cls = t[1];
  if (!isCallable(cls) || !('dtype' in cls)) throw new PickleError(`persistent id names a ${typeName(cls)}, not a torch storage class`);
  if (t.length > 5 && t[5] !== null) throw new PickleError('a storage view (legacy format, tensors sharing memory) is not supported');
  const sc = cls as StorageClass;
  const key = t[2];
  const numel = expectInt(t[4], 'storage size');
  if (numel < 0) throw new PickleError(`storage size ${numel} is negative`);
  return { dtype: sc.dtype, elementBytes: sc.elementBytes, key: typeof key === 'number' ? String(key) : expectStr(key, 'storage key'), numel };
}
