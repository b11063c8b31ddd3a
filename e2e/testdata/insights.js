// The insights' and the search's computations on crafted inputs, run in
// the messenger's page by TestBrowserInsightsComputations: the modules are
// imported as the page serves them. An async function of the merchant
// category codes the platform knows (internal/mcc), resolving to the list
// of what went wrong (empty when all is well). Times are built in the
// page's own time zone, as the insights count days and months.
async (codes) => {
  const I = await import('/js/insights.js');
  const C = await import('/js/categories.js');
  const S = await import('/js/search.js');
  const failures = [];
  const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));
  const eq = (what, got, want) => {
    if (show(got) !== show(want)) failures.push(`${what}: got ${show(got)}, want ${show(want)}`);
  };
  const at = (y, m, d, hh = 12, mm = 0) => new Date(y, m - 1, d, hh, mm).getTime();
  let seq = 0;
  const txn = (when, amount, currency, { merchant = null, mcc = '', direction = 'debit', status = 'posted', account = 'acc1', id = null, ref = null, replaces = null, description = '' } = {}) => ({
    seq: ++seq, type: 'transaction.posted', author: 'institution', occurred_at: new Date(when).toISOString(),
    ...(replaces != null ? { replaces_seq: replaces } : {}),
    data: {
      account_id: account, transaction_id: id || `t${seq}`, ...(ref ? { reference_id: ref } : {}), status, direction,
      amount: { amount, currency }, ...(description ? { description } : {}),
      ...(merchant ? { merchant: { name: merchant, ...(mcc ? { mcc } : {}) } } : {}),
    },
  });
  const balance = (when, amount, currency, account = 'acc1') => ({
    seq: ++seq, type: 'balance.updated', author: 'institution', occurred_at: new Date(when).toISOString(),
    data: { account_id: account, account_name: 'Everyday Checking', account_kind: 'checking', available: { amount, currency }, current: { amount, currency } },
  });

  // Money: decimal strings to whole minor units and back, per currency.
  eq('toMinor USD', I.toMinor('12.50', 'USD'), 1250n);
  eq('toMinor one digit', I.toMinor('12.5', 'USD'), 1250n);
  eq('toMinor whole', I.toMinor('7', 'USD'), 700n);
  eq('toMinor JPY', I.toMinor('1000', 'JPY'), 1000n);
  eq('toMinor JPY refuses a fraction', I.toMinor('1.5', 'JPY'), null);
  eq('toMinor BHD', I.toMinor('1.234', 'BHD'), 1234n);
  eq('toMinor trailing zeros', I.toMinor('3.100', 'USD'), 310n);
  eq('toMinor refuses a float-ish string', I.toMinor('1e3', 'USD'), null);
  eq('toMinor refuses too many digits', I.toMinor('0.001', 'USD'), null);
  eq('0.10 + 0.20', I.fromMinor(I.toMinor('0.10', 'USD') + I.toMinor('0.20', 'USD'), 'USD'), '0.30');
  eq('fromMinor cents', I.fromMinor(5n, 'USD'), '0.05');
  eq('fromMinor BHD negative', I.fromMinor(-5n, 'BHD'), '-0.005');
  eq('fromMinor JPY', I.fromMinor(3500n, 'JPY'), '3500');
  eq('beyond 2^53', I.fromMinor(I.toMinor('999999999999999.99', 'USD') + I.toMinor('0.01', 'USD'), 'USD'), '1000000000000000.00');

  // Categories a person would use.
  const g = (mcc) => C.groupOf({ name: 'M', mcc }).id;
  eq('5411', g('5411'), 'groceries');
  eq('5812', g('5812'), 'eating_out');
  eq('5814', g('5814'), 'eating_out');
  eq('4511', g('4511'), 'travel');
  eq('3001 airline', g('3001'), 'travel');
  eq('3400 car rental', g('3400'), 'travel');
  eq('3700 hotel', g('3700'), 'travel');
  eq('4900', g('4900'), 'bills');
  eq('5541', g('5541'), 'transport');
  eq('4111', g('4111'), 'transport');
  eq('5912', g('5912'), 'health');
  eq('0742', g('0742'), 'health');
  eq('7832', g('7832'), 'entertainment');
  eq('4899', g('4899'), 'entertainment');
  eq('5651', g('5651'), 'shopping');
  eq('6011', g('6011'), 'cash');
  eq('8398', g('8398'), 'giving');
  eq('no code', g(''), 'other');
  eq('742 is not a code', g('742'), 'other');
  eq('no merchant', C.groupOf(null).id, 'transfers');
  for (const code of codes) if (g(code) === 'other') failures.push(`MCC ${code} has no plain group`);
  eq('label', C.categoryLabel({ name: 'M', mcc: '5812', category: 'Eating places and Restaurants' }), 'Eating out');
  eq('label of an unknown code', C.categoryLabel({ name: 'M', mcc: '0001', category: 'The bank’s words' }), 'The bank’s words');
  eq('groups', C.GROUPS.length >= 12, true);

  // Transactions: a pending replaced by its posted one counts once, and so
  // does a transaction sent twice.
  {
    const p1 = txn(at(2025, 3, 1), '10.00', 'USD', { merchant: 'Cafe', mcc: '5814', status: 'pending', id: 'p1' });
    const p2 = txn(at(2025, 3, 1), '20.00', 'USD', { merchant: 'Diner', mcc: '5812', status: 'pending', id: 'p2' });
    const events = [p1, p2,
      txn(at(2025, 3, 2), '11.50', 'USD', { merchant: 'Cafe', mcc: '5814', replaces: p1.seq, id: 'q1' }),
      txn(at(2025, 3, 2), '24.00', 'USD', { merchant: 'Diner', mcc: '5812', ref: 'p2', id: 'q2' }),
      txn(at(2025, 3, 3), '5.00', 'USD', { merchant: 'Kiosk', mcc: '5499', id: 'same' }),
      txn(at(2025, 3, 3), '5.00', 'USD', { merchant: 'Kiosk', mcc: '5499', id: 'same' }),
      txn(at(2025, 3, 3), 'twelve', 'USD', { merchant: 'Bad', mcc: '5499' }),
      { seq: ++seq, type: 'message', occurred_at: new Date(at(2025, 3, 3)).toISOString(), data: { text: 'hello' } }];
    const t = I.transactions(events);
    eq('transactions counted once', t.map((x) => x.id), ['q1', 'q2', 'same']);
    eq('March spending', I.spendingByMonth(t)[0].months.map((m) => [m.month, I.fromMinor(m.spent, 'USD')]), [['2025-03', '40.50']]);
  }

  // Spending by month and category, exact, per currency; refunds count
  // against spending, transfers and salaries do not.
  {
    const t = I.transactions([
      txn(at(2025, 1, 5), '0.10', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 1, 6), '0.20', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 1, 7), '19.99', 'USD', { merchant: 'Little Osaka', mcc: '5812' }),
      txn(at(2025, 1, 8), '5.00', 'USD', { merchant: 'Little Osaka', mcc: '5812', direction: 'credit' }),
      txn(at(2025, 1, 9), '500.00', 'USD', { description: 'Rewards Visa payment' }),
      txn(at(2025, 1, 10), '2000.00', 'USD', { description: 'Payroll', direction: 'credit' }),
      txn(at(2025, 3, 1), '1.01', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 1, 5), '1000', 'JPY', { merchant: 'Konbini', mcc: '5499' }),
      txn(at(2025, 1, 20), '2500', 'JPY', { merchant: 'Ramen', mcc: '5814' }),
      txn(at(2025, 1, 5), '1.005', 'BHD', { merchant: 'Souq', mcc: '5411' }),
      txn(at(2025, 1, 6), '2.010', 'BHD', { merchant: 'Souq', mcc: '5411' }),
    ]);
    const byMonth = I.spendingByMonth(t);
    const flat = (x) => x.map((c) => [c.currency, c.months.map((m) => [m.month, I.fromMinor(m.spent, c.currency)]), I.fromMinor(c.total, c.currency)]);
    eq('by month', flat(byMonth), [
      ['USD', [['2025-01', '15.29'], ['2025-02', '0.00'], ['2025-03', '1.01']], '16.30'],
      ['BHD', [['2025-01', '3.015']], '3.015'],
      ['JPY', [['2025-01', '3500']], '3500'],
    ]);
    const cats = I.spendingByCategory(t, '2025-01');
    eq('by category', cats.map((c) => [c.currency, c.groups.map((x) => [x.id, I.fromMinor(x.spent, c.currency)]), I.fromMinor(c.total, c.currency), I.fromMinor(c.transfers, c.currency)]), [
      ['USD', [['eating_out', '14.99'], ['groceries', '0.30']], '15.29', '500.00'],
      ['BHD', [['groceries', '3.015']], '3.015', '0.000'],
      ['JPY', [['eating_out', '2500'], ['groceries', '1000']], '3500', '0'],
    ]);
  }

  // Duplicates: same merchant, same amount, within a day; posted only.
  {
    const t = I.transactions([
      txn(at(2025, 4, 2, 9), '4.80', 'EUR', { merchant: 'Quillon Café', mcc: '5814' }),
      txn(at(2025, 4, 2, 11, 30), '4.80', 'EUR', { merchant: 'QUILLON CAFÉ', mcc: '5814' }),
      txn(at(2025, 4, 4, 9), '4.80', 'EUR', { merchant: 'Quillon Café', mcc: '5814' }),
      txn(at(2025, 4, 5, 18), '4.80', 'EUR', { merchant: 'Quillon Café', mcc: '5814' }),
      txn(at(2025, 4, 2, 12), '4.80', 'USD', { merchant: 'Quillon Café', mcc: '5814' }),
      txn(at(2025, 4, 2, 12), '4.81', 'EUR', { merchant: 'Quillon Café', mcc: '5814' }),
      txn(at(2025, 4, 3, 8), '60.00', 'EUR', { merchant: 'Sunrise Fuel', mcc: '5542', status: 'pending', id: 'hold' }),
      txn(at(2025, 4, 3, 9), '60.00', 'EUR', { merchant: 'Sunrise Fuel', mcc: '5542', id: 'fuel' }),
      txn(at(2025, 4, 6, 8), '9.00', 'EUR', { merchant: 'Bakery', mcc: '5462' }),
      txn(at(2025, 4, 6, 9), '9.00', 'EUR', { merchant: 'Bakery', mcc: '5462' }),
      txn(at(2025, 4, 6, 10), '9.00', 'EUR', { merchant: 'Bakery', mcc: '5462' }),
      txn(at(2025, 4, 7, 8), '100.00', 'EUR', { description: 'Transfer to savings' }),
      txn(at(2025, 4, 7, 9), '100.00', 'EUR', { description: 'Transfer to savings' }),
    ]);
    eq('duplicates', I.duplicates(t).map((d) => [d.merchant, d.currency, I.fromMinor(d.minor, d.currency), d.items.length]), [
      ['Bakery', 'EUR', '9.00', 3],
      ['QUILLON CAFÉ', 'EUR', '4.80', 2],
    ]);
  }

  // Recurring: monthly with a price rise, weekly, and what is not.
  const now = at(2025, 3, 20);
  {
    const t = I.transactions([
      txn(at(2025, 1, 15), '9.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 2, 15), '9.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 3, 15), '12.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 2, 27), '30.00', 'USD', { merchant: 'Iron Gym', mcc: '7997' }),
      txn(at(2025, 3, 6), '30.00', 'USD', { merchant: 'Iron Gym', mcc: '7997' }),
      txn(at(2025, 3, 13), '30.00', 'USD', { merchant: 'Iron Gym', mcc: '7997' }),
      txn(at(2025, 3, 1), '52.10', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 3, 3), '48.00', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 3, 8), '61.30', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 3, 19), '45.75', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2024, 9, 1), '5.00', 'USD', { merchant: 'Old News', mcc: '5994' }),
      txn(at(2024, 10, 1), '5.00', 'USD', { merchant: 'Old News', mcc: '5994' }),
      txn(at(2024, 11, 1), '5.00', 'USD', { merchant: 'Old News', mcc: '5994' }),
      txn(at(2025, 2, 1), '15.00', 'USD', { merchant: 'Two Times', mcc: '5815' }),
      txn(at(2025, 3, 1), '15.00', 'USD', { merchant: 'Two Times', mcc: '5815' }),
      txn(at(2025, 1, 10), '10.00', 'USD', { merchant: 'Price Jump', mcc: '5815' }),
      txn(at(2025, 2, 10), '10.00', 'USD', { merchant: 'Price Jump', mcc: '5815' }),
      txn(at(2025, 3, 10), '40.00', 'USD', { merchant: 'Price Jump', mcc: '5815' }),
    ]);
    const r = I.recurring(t, now);
    eq('recurring', r.map((s) => [s.title, s.cadence, I.fromMinor(s.minor, 'USD'), s.items.length, s.increase && [I.fromMinor(s.increase.from, 'USD'), I.fromMinor(s.increase.to, 'USD'), new Date(s.increase.since).getDate()]]), [
      ['Iron Gym', 'weekly', '30.00', 3, null],
      ['Streamflix', 'monthly', '12.99', 3, ['9.99', '12.99', 15]],
    ]);
    const s = r.find((x) => x.title === 'Streamflix');
    eq('next Streamflix', [new Date(s.next).getMonth() + 1, new Date(s.next).getDate()], [4, 15]);
  }
  {
    // Monthly on the 31st: a month on from January's is February's last day.
    const t = I.transactions([
      txn(at(2024, 11, 30), '20.00', 'USD', { merchant: 'Month End', mcc: '4814' }),
      txn(at(2024, 12, 31), '20.00', 'USD', { merchant: 'Month End', mcc: '4814' }),
      txn(at(2025, 1, 31), '20.00', 'USD', { merchant: 'Month End', mcc: '4814' }),
    ]);
    const r = I.recurring(t, at(2025, 2, 5));
    eq('month end', r.map((x) => [x.cadence, new Date(x.next).getMonth() + 1, new Date(x.next).getDate()]), [['monthly', 2, 28]]);
  }

  // Forecast: the everyday rate (without the recurring charges), the
  // recurring charges on their days, recurring money in, per account and
  // currency; whether and when the balance goes under the low mark.
  {
    const events = [
      txn(at(2025, 1, 15), '9.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 2, 15), '9.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 3, 15), '12.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 3, 1), '100.00', 'USD', { merchant: 'FreshMart', mcc: '5411' }),
      txn(at(2025, 3, 10), '150.00', 'USD', { merchant: 'Harbor & Vine', mcc: '5812' }),
      txn(at(2025, 3, 18), '50.00', 'USD', { merchant: 'Sunrise Fuel', mcc: '5542' }),
      txn(at(2025, 3, 18), '999.00', 'EUR', { merchant: 'Elsewhere', mcc: '5411' }),
      txn(at(2025, 3, 18), '777.00', 'USD', { merchant: 'Other card', mcc: '5411', account: 'acc2' }),
      txn(at(2025, 1, 1), '1.00', 'USD', { merchant: 'Old', mcc: '5411' }),
    ];
    const t = I.transactions(events);
    const series = I.recurring(t, now);
    const run = (amount, opts = {}) => I.forecast(t, [balance(now, amount, 'USD')], series, { now, since: at(2025, 1, 1), ...opts })[0];
    const f = run('300.00');
    eq('forecast runs low', [f.status, f.windowDays, I.fromMinor(f.spent, 'USD'), I.fromMinor(f.dailyRate, 'USD'), f.runsLow.inDays, I.fromMinor(f.runsLow.minor, 'USD')],
      ['runs-low', 30, '300.00', '10.00', 21, '90.00']);
    eq('forecast expects Streamflix', f.scheduled.map((s) => [s.title, I.fromMinor(s.minor, 'USD'), new Date(s.at).getDate()]), [['Streamflix', '12.99', 15]]);
    const ok = run('5000.00');
    eq('forecast ok', [ok.status, I.fromMinor(ok.lowest.minor, 'USD')], ['ok', '4707.01']);
    eq('forecast low now', run('50.00').status, 'low-now');
    eq('forecast own low mark', run('300.00', { lowMarks: new Map([['acc1', 500n]]) }).status, 'ok');
    eq('forecast needs a week', run('300.00', { since: now - 3 * 86400000 }).status, 'short');
    // A salary every two weeks lifts it back up.
    const paid = I.transactions([...events,
      txn(at(2025, 2, 21), '1000.00', 'USD', { description: 'Payroll', direction: 'credit' }),
      txn(at(2025, 3, 7), '1000.00', 'USD', { description: 'Payroll', direction: 'credit' })]);
    const paidSeries = I.recurring(paid, now);
    eq('no salary from two payments', paidSeries.some((s) => s.direction === 'credit'), false);
    const paid3 = I.transactions([...events,
      txn(at(2025, 2, 7), '1000.00', 'USD', { description: 'Payroll', direction: 'credit' }),
      txn(at(2025, 2, 21), '1000.00', 'USD', { description: 'Payroll', direction: 'credit' }),
      txn(at(2025, 3, 7), '1000.00', 'USD', { description: 'Payroll', direction: 'credit' })]);
    const f3 = I.forecast(paid3, [balance(now, '300.00', 'USD')], I.recurring(paid3, now), { now, since: at(2025, 1, 1) })[0];
    eq('salary counted', [f3.status, f3.scheduled.filter((s) => s.direction === 'credit').length], ['ok', 2]);
  }

  // Search: merchants, amounts (exact), words; every word must match.
  {
    const events = [
      txn(at(2025, 3, 1), '12.99', 'USD', { merchant: 'Streamflix', mcc: '4899' }),
      txn(at(2025, 3, 2), '12.00', 'USD', { merchant: 'Bluebird Coffee', mcc: '5814' }),
      txn(at(2025, 3, 3), '1234.50', 'USD', { merchant: 'Alder Outfitters', mcc: '5651' }),
      txn(at(2025, 3, 4), '4.80', 'EUR', { merchant: 'Quillon Café', mcc: '5814' }),
      { seq: ++seq, type: 'message', author: 'institution', occurred_at: new Date(at(2025, 3, 5)).toISOString(), data: { text: 'Your Streamflix payment went through.' } },
      { seq: ++seq, type: 'balance.updated', occurred_at: new Date(at(2025, 3, 5)).toISOString(), data: { account_name: 'Streamflix', available: { amount: '12.99', currency: 'USD' } } },
    ];
    const titles = (q) => S.search(events, q).results.map((r) => r.title);
    eq('by merchant, newest first', titles('streamflix'), ['Your Streamflix payment went through.', 'Streamflix']);
    eq('by amount', titles('12.99'), ['Streamflix']);
    eq('by amount with a symbol', titles('$12.99'), ['Streamflix']);
    eq('by amount with a comma', titles('12,99'), ['Streamflix']);
    eq('by whole amount', titles('12'), ['Bluebird Coffee', 'Streamflix']);
    eq('one decimal', titles('12.9'), []);
    eq('12.90 is not 12.99', titles('12.90'), []);
    eq('thousands', titles('1,234.50'), ['Alder Outfitters']);
    eq('every word', titles('quillon 4.80'), ['Quillon Café']);
    eq('by category', titles('eating out'), ['Quillon Café', 'Bluebird Coffee']);
    eq('nothing', titles('zzz'), []);
    const r = S.search(events, 'flix').results[1];
    eq('marked', [r.title.slice(r.titleRanges[0][0], r.titleRanges[0][1]), r.amountMatched], ['flix', false]);
    eq('amount marked', S.search(events, '12.99').results[0].amountMatched, true);
  }
  return failures;
}
