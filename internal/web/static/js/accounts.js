// Which account a card spends from, as the bank said it. A bank sends the
// account's name with each balance (account_id, account_name) and with a
// card's status (card_last4, account_name); a transaction, and a fraud
// alert's, say which account it was (account_id) and which card
// (card_last4). From these, a
// purchase or an alert names its card the way the balances above name the
// account ("Everyday Checking card ••4821", format.js cardName), not with
// a bare "Card ••4821" that matches none of the accounts shown. Pure
// functions: no DOM, no state.

// accountNames reads the names from a conversation's events (any order;
// the newest of each wins) and returns lookups by account id and by a
// card's last four digits, each '' when the bank never said.
export function accountNames(events) {
  const byAccount = new Map();
  const byCard = new Map();
  const sorted = [...events].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  for (const e of sorted) {
    const d = e.data || {};
    if (e.type === 'balance.updated' && d.account_id && d.account_name) byAccount.set(d.account_id, d.account_name);
  }
  for (const e of sorted) {
    const d = e.data || {};
    const t = e.type === 'fraud.alert' ? d.transaction || {} : d;
    if ((e.type === 'transaction.posted' || e.type === 'fraud.alert') && t.card_last4 && byAccount.has(t.account_id)) byCard.set(t.card_last4, byAccount.get(t.account_id));
    if (e.type === 'card.status' && d.card_last4 && d.account_name) byCard.set(d.card_last4, d.account_name);
  }
  return {
    account: (id) => byAccount.get(id) || '',
    card: (last4) => byCard.get(last4) || '',
  };
}

// NO_NAMES is what a view that has no conversation's events knows.
export const NO_NAMES = { account: () => '', card: () => '' };
