/** How much of a user's value an error message repeats. */
export const ECHO_LIMIT = 80;

/**
 * A value quoted for an error message, cut to its first `limit` characters with its full length
 * said after: an error must stay short whatever the tenant sent (a 100 KB value once made a
 * 100 KB gRPC status that HTTP/2 could not carry, and the call never got an answer).
 */
export function excerpt(value: string, limit = ECHO_LIMIT): string {
  if (value.length <= limit) return JSON.stringify(value);
  return `${JSON.stringify(`${value.slice(0, limit)}…`)} (${value.length} characters)`;
}

/** A whole message cut to `limit` characters, for the last line of defence before the wire. */
export function shortened(message: string, limit: number): string {
  if (message.length <= limit) return message;
  return `${message.slice(0, limit)}… (${message.length} characters)`;
}
