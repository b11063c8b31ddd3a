// Categories a person would use. A card network files every merchant
// under a four-digit merchant category code (ISO 18245) and its official
// name ("Eating places and Restaurants", "Automated Fuel Dispensers");
// people think in a dozen plainer groups: groceries, eating out, bills.
// This is OpenTeller's own mapping from the one to the other, written for
// the messenger: explicit codes first, then the ranges the standard
// reserves (airlines, car rentals and hotels, medical services, …).
// Pure data and functions: no DOM, no state.
import { t } from './i18n.js';

// GROUPS in the order the insights list them when amounts tie. `spending`
// says whether money out in the group counts as spending: a transfer or a
// payment between accounts (a credit card paid from checking) moves money
// the customer still has, and counting it would count the purchases twice.
// A group's name is in the language in use (i18n.js: category.<id>).
function named(id, spending) {
  return { id, spending, get name() { return t(`category.${id}`); } };
}
export const GROUPS = [
  named('groceries', true),
  named('eating_out', true),
  named('shopping', true),
  named('home', true),
  named('bills', true),
  named('transport', true),
  named('travel', true),
  named('entertainment', true),
  named('health', true),
  named('personal_care', true),
  named('education', true),
  named('giving', true),
  named('cash', true),
  named('other', true),
  named('transfers', false),
];

const byId = new Map(GROUPS.map((g) => [g.id, g]));

// CODES: single codes, where a range would say something else or a code
// stands on its own.
const CODES = {
  // Food to take home.
  5411: 'groceries', 5422: 'groceries', 5441: 'groceries', 5451: 'groceries', 5462: 'groceries',
  5499: 'groceries', 5921: 'groceries',
  // Food and drink out.
  5811: 'eating_out', 5812: 'eating_out', 5813: 'eating_out', 5814: 'eating_out',
  // Streaming, games, apps, films and days out.
  4899: 'entertainment', 5735: 'entertainment', 5815: 'entertainment', 5816: 'entertainment',
  5817: 'entertainment', 5818: 'entertainment', 7273: 'entertainment',
  // The home: building, furnishing, fixing, cleaning.
  780: 'home', 5200: 'home', 5211: 'home', 5231: 'home', 5251: 'home', 5261: 'home', 5271: 'home',
  5712: 'home', 5713: 'home', 5714: 'home', 5718: 'home', 5719: 'home', 5722: 'home', 5950: 'home',
  5996: 'home', 7217: 'home', 7342: 'home', 7349: 'home', 8911: 'home',
  // What arrives every month: power, phone, internet, insurance, rent, taxes.
  4814: 'bills', 4816: 'bills', 4821: 'bills', 4900: 'bills', 5983: 'bills', 6300: 'bills',
  6381: 'bills', 6399: 'bills', 6513: 'bills', 7276: 'bills', 7321: 'bills', 8675: 'bills', 8931: 'bills',
  // Getting around: fares, taxis, fuel, parking, tolls, the car.
  4111: 'transport', 4121: 'transport', 4131: 'transport', 4784: 'transport', 4789: 'transport',
  5511: 'transport', 5521: 'transport', 5531: 'transport', 5532: 'transport', 5533: 'transport',
  5541: 'transport', 5542: 'transport', 5561: 'transport', 5571: 'transport', 5592: 'transport',
  5599: 'transport', 7511: 'transport', 7513: 'transport', 7523: 'transport', 7531: 'transport',
  7534: 'transport', 7535: 'transport', 7538: 'transport', 7542: 'transport', 7549: 'transport',
  // Going away: trains between cities, flights, cruises, hotels, camps, rentals.
  4112: 'travel', 4411: 'travel', 4457: 'travel', 4468: 'travel', 4511: 'travel', 4582: 'travel',
  4722: 'travel', 7011: 'travel', 7012: 'travel', 7032: 'travel', 7033: 'travel', 7512: 'travel',
  7519: 'travel',
  // Body and mind, people and pets.
  742: 'health', 5912: 'health', 5975: 'health', 5976: 'health', 7277: 'health', 7997: 'health',
  // Looking after oneself.
  5977: 'personal_care', 7210: 'personal_care', 7211: 'personal_care', 7216: 'personal_care',
  7230: 'personal_care', 7297: 'personal_care', 7298: 'personal_care',
  // Learning and looking after children.
  8211: 'education', 8220: 'education', 8241: 'education', 8244: 'education', 8249: 'education',
  8299: 'education', 8351: 'education',
  // Giving to others.
  8398: 'giving', 8641: 'giving', 8651: 'giving', 8661: 'giving',
  // Cash in hand, or as good as.
  6010: 'cash', 6011: 'cash', 6051: 'cash',
  // Money moved, not spent.
  6012: 'transfers', 6211: 'transfers', 6540: 'transfers',
};

// RANGES: what the standard reserves a block of codes for, checked after
// CODES, first match wins.
const RANGES = [
  [1500, 2999, 'home'], // contractors
  [3000, 3350, 'travel'], // airlines
  [3351, 3500, 'travel'], // car rentals
  [3501, 3999, 'travel'], // hotels
  [4000, 4799, 'transport'],
  [4800, 4999, 'bills'], // telecoms and utilities
  [5600, 5699, 'shopping'], // clothes and shoes
  [5000, 5999, 'shopping'], // shops of every other kind
  [7500, 7599, 'transport'], // the car
  [7600, 7699, 'home'], // repairs
  [7800, 7999, 'entertainment'],
  [8000, 8099, 'health'],
  [8200, 8299, 'education'],
  [9000, 9999, 'bills'], // government: taxes, fines, fees
];

// groupOf names the group of a transaction's merchant: by its category
// code, or "transfers" when there is no merchant at all (money moved by
// the bank: a transfer, a card payment, a salary), or "other".
export function groupOf(merchant) {
  if (!merchant) return byId.get('transfers');
  const code = /^\d{4}$/.test(String(merchant.mcc ?? '')) ? Number(merchant.mcc) : NaN;
  if (Number.isNaN(code)) return byId.get('other');
  let id = CODES[code];
  if (!id) id = RANGES.find(([lo, hi]) => code >= lo && code <= hi)?.[2];
  return byId.get(id || 'other');
}

export function group(id) {
  return byId.get(id) || byId.get('other');
}

// categoryLabel is the words a transaction card shows for its merchant's
// category: the plain group when the code is known, else the bank's own
// words, else nothing.
export function categoryLabel(merchant) {
  if (!merchant) return '';
  const g = groupOf(merchant);
  return g.id !== 'other' ? g.name : String(merchant.category || '');
}
