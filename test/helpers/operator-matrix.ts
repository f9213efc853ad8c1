/**
 * The operator matrix: every supported operator and list form over values of property `v` that
 * are a string, a number, a numeric string, a boolean, null, missing, an object or empty; the
 * expected counts are worked out by hand. The events suite (filter-operators.test.ts) and the
 * groups suite (groups-query.test.ts) run it against every compiler.
 */
export const ODD_KEY = 'a.b"c\\d[0]'

/** The value of property `v` on each event (undefined: the key is absent). */
export const VALUES: unknown[] = [
  'Chrome', // 1
  'chrome', // 2
  'Firefox 5%_x', // 3
  10, // 4
  '10', // 5
  2.5, // 6
  '-3', // 7
  true, // 8
  false, // 9
  null, // 10
  undefined, // 11
  { a: 1 }, // 12
  '', // 13
  '2024-01-15T10:00:00Z', // 14
  '2024-01-15', // 15
  '9', // 16
]

export type Filter = Record<string, unknown>
export const v = (operator: string, value?: unknown, extra: Filter = {}): Filter => ({
  key: 'v',
  operator,
  value,
  type: 'event',
  ...extra,
})

/** [description, property filters, expected count of the 16 events]. */
export const CASES: [string, unknown, number][] = [
  ['exact string', [v('exact', 'Chrome')], 1],
  ['operator omitted means exact', [{ key: 'v', value: 'Chrome' }], 1],
  ['exact list (any of)', [v('exact', ['Chrome', 'Firefox 5%_x'])], 2],
  ['exact [x] = x', [v('exact', ['Chrome'])], 1],
  ['exact [] is no filter', [v('exact', [])], 16],
  ['exact number matches number and numeric string', [v('exact', 10)], 2],
  ['exact true matches the boolean', [v('exact', true)], 1],
  ['exact "" matches the empty string only', [v('exact', '')], 1],
  ['is_not matches missing and null', [v('is_not', 'Chrome')], 15],
  ['is_not list (none of)', [v('is_not', ['Chrome', 'chrome'])], 14],
  ['in list', [v('in', ['chrome', '10'])], 3],
  ['in scalar', [v('in', 'chrome')], 1],
  ['not_in matches missing and null', [v('not_in', ['chrome', '10'])], 13],
  ['icontains is case-insensitive', [v('icontains', 'CHROME')], 2],
  ['icontains % literally', [v('icontains', '%')], 1],
  ['icontains _ literally', [v('icontains', '_')], 1],
  ['icontains list (any)', [v('icontains', ['fire', 'TRU'])], 2],
  ['not_icontains matches missing', [v('not_icontains', 'chrome')], 14],
  ['icontains_multi', [v('icontains_multi', ['chr', 'fox'])], 3],
  ['not_icontains_multi', [v('not_icontains_multi', ['chr', 'fox'])], 13],
  ['regex', [v('regex', '^[Cc]hrome$')], 2],
  ['regex (?i)', [v('regex', '(?i)^CHROME')], 2],
  ['regex list (any)', [v('regex', ['^Fire', '^tr'])], 2],
  ['not_regex matches missing', [v('not_regex', '^[Cc]')], 14],
  ['gt number compares numerically', [v('gt', 5)], 3],
  ['gt numeric string compares numerically', [v('gt', '5')], 3],
  ['gte', [v('gte', 10)], 2],
  ['lt', [v('lt', 0)], 1],
  ['lte', [v('lte', 2.5)], 2],
  ['min is gte', [v('min', 10)], 2],
  ['max is lte', [v('max', 2.5)], 2],
  ['gt text compares by code point', [v('gt', 'F')], 5],
  ['gt list (any)', [v('gt', [100, 9.5])], 2],
  ['between', [v('between', [2, 10])], 4],
  ['between negative', [v('between', [-5, 0])], 1],
  ['not_between: numbers outside only', [v('not_between', [2, 10])], 1],
  ['is_set ("" and objects are set)', [v('is_set')], 14],
  ['is_not_set (missing or null)', [v('is_not_set')], 2],
  ['is_date_before', [v('is_date_before', '2024-01-16')], 2],
  ['is_date_after', [v('is_date_after', '2024-01-15T09:00:00Z')], 1],
  ['is_date_exact on a date compares the day', [v('is_date_exact', '2024-01-15')], 2],
  ['is_date_exact on a time compares the instant', [v('is_date_exact', '2024-01-15T10:00:00+00:00')], 1],
  ['is_date_before a relative date', [v('is_date_before', '-7d')], 2],
  ['is_date_after a relative date', [v('is_date_after', '-1m')], 0],
  ['feature type reads event properties', [v('exact', 'Chrome', { type: 'feature' })], 1],
  ['a list of filters is ANDed', [v('icontains', 'chrome'), v('exact', 'chrome')], 1],
  [
    'nested AND/OR groups',
    {
      type: 'OR',
      values: [{ type: 'AND', values: [v('exact', 'Chrome')] }, v('exact', 'chrome')],
    },
    2,
  ],
  ['a key with dots, quotes and brackets', [{ key: ODD_KEY, value: 1 }], 1],
  ['event_metadata event', [{ key: 'event', value: 'm', type: 'event_metadata' }], 16],
  ['event_metadata distinct_id', [{ key: 'distinct_id', value: 'user-1', type: 'event_metadata' }], 16],
  ['event_metadata $group_0', [{ key: '$group_0', value: 'acme', type: 'event_metadata' }], 16],
  [
    'event_metadata $group_1 is not set',
    [{ key: '$group_1', operator: 'is_not_set', type: 'event_metadata' }],
    16,
  ],
  [
    'event_metadata timestamp is_date_after',
    [{ key: 'timestamp', operator: 'is_date_after', value: '-2h', type: 'event_metadata' }],
    16,
  ],
  ['group property exact', [{ key: 'plan', value: 'pro', type: 'group', group_type_index: 0 }], 16],
  [
    'group property gt',
    [{ key: 'seats', operator: 'gt', value: 10, type: 'group', group_type_index: 0 }],
    16,
  ],
  [
    'group property is_not',
    [{ key: 'plan', operator: 'is_not', value: 'pro', type: 'group', group_type_index: 0 }],
    0,
  ],
  [
    'group property of a type with no group: negatives match',
    [{ key: 'plan', operator: 'is_not', value: 'x', type: 'group', group_type_index: 1 }],
    16,
  ],
]
