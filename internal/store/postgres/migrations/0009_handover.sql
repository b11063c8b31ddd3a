-- Who answers the customer in a conversation (package handover): the
-- bank's bot, the queue for a person, or an agent.
ALTER TABLE conversations ADD COLUMN owner text NOT NULL DEFAULT 'bot';
ALTER TABLE conversations ADD COLUMN agent_id text NOT NULL DEFAULT '';
