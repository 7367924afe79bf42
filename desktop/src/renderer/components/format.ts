export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(ms: number | undefined): string {
  return ms === undefined ? '' : dateFormat.format(new Date(ms));
}
