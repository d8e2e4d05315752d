/**
 * The allow-list: the only Python globals a pickle may name. A pickle can call any
 * importable function by name (`os.system` is two opcodes away), so every other name is
 * refused before anything runs, and the allowed ones are our own reimplementations, not
 * proxies to anything that executes.
 */
import { DTYPE, FROMBUFFER, NDARRAY, RECONSTRUCT, SCALAR } from './numpy.js';
import { BLOCK_MANAGER, DATAFRAME, INDEX_CLASSES, NEW_INDEX, UNPICKLE_BLOCK } from './pandas.js';
import { PickleError, PyDict, expectBytes, expectStr, makeSlice, type PyCallable } from './values.js';

/** Old module paths and Python 2 / numpy 2 spellings, mapped to the names below. */
const MODULE_ALIASES: Record<string, string> = {
  __builtin__: 'builtins',
  'numpy._core.multiarray': 'numpy.core.multiarray',
  'numpy._core.numeric': 'numpy.core.numeric',
  'pandas.core.internals': 'pandas.core.internals.managers',
  'pandas.indexes.base': 'pandas.core.indexes.base',
  'pandas.indexes.numeric': 'pandas.core.indexes.numeric',
  'pandas.indexes.range': 'pandas.core.indexes.range',
};

const LATIN1 = new Set(['latin1', 'latin-1', 'iso-8859-1', 'iso8859-1']);

/** Protocol 2 spells bytes as `_codecs.encode(text, 'latin1')`. */
const CODECS_ENCODE: PyCallable = {
  qualName: '_codecs.encode',
  call(args) {
    const text = expectStr(args[0], '_codecs.encode text');
    const enc = expectStr(args[1] ?? 'utf-8', '_codecs.encode encoding').toLowerCase();
    if (!LATIN1.has(enc)) throw new PickleError(`_codecs.encode with encoding "${enc}": only latin-1 (how pickles spell bytes) is supported`);
    return Buffer.from(text, 'latin1');
  },
};

function bytesCall(qualName: string): PyCallable {
  return {
    qualName,
    call(args) {
      if (args.length === 0) return Buffer.alloc(0);
      if (args.length === 2) return CODECS_ENCODE.call!(args);
      return Buffer.from(expectBytes(args[0], `${qualName} argument`));
    },
  };
}

const ORDERED_DICT: PyCallable = {
  qualName: 'collections.OrderedDict',
  call: () => new PyDict(),
  newObj: () => new PyDict(),
};

const ALLOWED = new Map<string, PyCallable>([
  ['numpy.core.multiarray._reconstruct', RECONSTRUCT],
  ['numpy.core.multiarray.scalar', SCALAR],
  ['numpy.core.numeric._frombuffer', FROMBUFFER],
  ['numpy.ndarray', NDARRAY],
  ['numpy.dtype', DTYPE],
  ['builtins.slice', { qualName: 'slice', call: makeSlice }],
  ['builtins.bytes', bytesCall('bytes')],
  ['builtins.bytearray', bytesCall('bytearray')],
  ['_codecs.encode', CODECS_ENCODE],
  ['collections.OrderedDict', ORDERED_DICT],
  ['pandas.core.frame.DataFrame', DATAFRAME],
  ['pandas.core.internals.managers.BlockManager', BLOCK_MANAGER],
  ['pandas._libs.internals._unpickle_block', UNPICKLE_BLOCK],
  ['pandas.core.indexes.base._new_Index', NEW_INDEX],
  ...INDEX_CLASSES,
]);

export function resolveGlobal(module: string, name: string): PyCallable {
  const found = ALLOWED.get(`${MODULE_ALIASES[module] ?? module}.${name}`);
  if (!found) {
    throw new PickleError(
      `pickle global "${module}.${name}" is not allowed (only numpy arrays and pandas DataFrame internals are read; a pickle may name any Python function, so nothing else is run)`,
    );
  }
  return found;
}
