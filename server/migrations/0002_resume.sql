-- A participant's resume token, hashed (SHA-256, hex), so that a stay whose room was lost (its
-- node stopped or died, or the server restarted) can be taken up again in the meeting's next
-- room by whoever holds the token.
ALTER TABLE participants ADD COLUMN resume_hash TEXT;
CREATE INDEX participants_by_resume ON participants (resume_hash);
