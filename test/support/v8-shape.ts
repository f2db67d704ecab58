import { setFlagsFromString } from "node:v8";

// Node calls changing V8's flags after start-up undefined behaviour; this one only lets the next
// function be parsed, in tests, and nothing here depends on it beyond that.
setFlagsFromString("--allow-natives-syntax");
// V8's own introspection: the function is parsed only once natives syntax is on.
const fastProperties = new Function("object", "return %HasFastProperties(object)") as (
  object: object,
) => boolean;

/**
 * Whether V8 keeps the object's properties in a fixed shape rather than a hash table (dictionary
 * mode), where every lookup and walk of it is slower: a property of the hot path's records that no
 * timing test could pin on a shared machine.
 */
export function hasFastProperties(object: object): boolean {
  return fastProperties(object);
}
