-- The language a customer chose (package i18n's code: "fr"), kept with
-- their account so it follows them to every device they sign in on, and
-- so that what the server writes them with no browser at hand (a push, a
-- reset mail) is in it. '' while they have chosen none.
ALTER TABLE customers ADD COLUMN language TEXT NOT NULL DEFAULT '';
