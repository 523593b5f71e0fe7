// Dates and times for people, in their language (Intl), never as ISO timestamps. The server
// does not know the reader's time zone, so times are shown in UTC and say so.
const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(language: string, style: 'date' | 'dateTime'): Intl.DateTimeFormat {
  const key = `${language}|${style}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(
      language,
      style === 'date'
        ? { dateStyle: 'medium', timeZone: 'UTC' }
        : { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short' },
    );
    formats.set(key, format);
  }
  return format;
}

const toDate = (value: Date | string | number) => (value instanceof Date ? value : new Date(value));

/** "Dec 2, 2026" / "02.12.2026". */
export function formatDate(value: Date | string | number, language: string): string {
  return formatOf(language, 'date').format(toDate(value));
}

/** "Dec 2, 2026, 09:40 PM UTC" / "2. Dez. 2026, 21:40 UTC" (Intl refuses timeZoneName beside dateStyle, so the parts are named). */
export function formatDateTime(value: Date | string | number, language: string): string {
  return formatOf(language, 'dateTime').format(toDate(value));
}
