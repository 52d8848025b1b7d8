// The Controls tab's budget box: what a person types, as the API's cents.
/** Dollars as typed (`2.50`, `$3`) in cents; `null` for an empty box, `NaN` for anything else. */
export function dollarsToCents(text: string): number | null {
  const t = text.trim().replace(/^\$/, '');
  if (t === '') return null;
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return NaN;
  return Math.round(Number(t) * 100);
}
