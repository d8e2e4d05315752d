/**
 * YAML of users' files (configs, campaigns) with alias expansion bounded: a few lines of
 * nested aliases (a "billion laughs" document) would otherwise expand to gigabytes.
 */
import { parse, type Document } from 'yaml';

/** yaml's own measure: each alias counts the nodes it expands to, summed over the document. */
export const MAX_ALIAS_COUNT = 100;

const TOJS = { maxAliasCount: MAX_ALIAS_COUNT };

/** The document's value; an alias bomb throws an Error whose message says so (one line). */
export function documentToJS(doc: Document): unknown {
  try {
    return doc.toJS(TOJS);
  } catch (e) {
    throw aliasError(e);
  }
}

/** parse() with the same bound. */
export function parseYamlBounded(text: string): unknown {
  try {
    return parse(text, TOJS);
  } catch (e) {
    throw aliasError(e);
  }
}

function aliasError(e: unknown): unknown {
  // yaml throws a ReferenceError, with a message about "resource exhaustion attacks"
  if (e instanceof ReferenceError && /alias/i.test(e.message)) {
    return new Error(`its aliases expand to more than ${MAX_ALIAS_COUNT} nodes (refused: a document that small should not grow that large)`);
  }
  return e;
}
