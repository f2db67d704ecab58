/** "2m", "90s", "1h" → milliseconds (the settings' patterns guarantee the shape). */
export function durationMs(text: string): number {
  const unit = text.slice(-1);
  const amount = Number(text.slice(0, -1));
  return amount * (unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : 1000);
}
