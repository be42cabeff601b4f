-- A message quarantined because its Message-ID names a stored message with
-- another body is stored without that Message-ID (it names the other message).
-- Delivered again with other header fields added on the way (another raw hash),
-- it must be found as that quarantined message, not quarantined a second time:
-- it is looked up by its body's keyed hash among quarantined messages stored
-- without a Message-ID (pipeline, store::intake::set_aside_with_body). Partial:
-- only those rows, so a report costs no index write more. Append-only.
CREATE INDEX messages_set_aside_body_hash ON messages(body_hash)
    WHERE message_id IS NULL AND disposition = 'quarantined';
