-- Payments handed to the bank (issue 13): what kind of institution each
-- is. A bank holds customers' money and can pay for them; a merchant asks
-- to be paid, and its customer chooses which of their banks pays. Nothing
-- about a payment is kept outside the conversations' sealed events.
ALTER TABLE institutions ADD COLUMN kind TEXT NOT NULL DEFAULT 'bank';
