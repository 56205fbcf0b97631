-- When a node last said it runs the meeting's room (each node marks its rooms every third of
-- the reconnect grace). A meeting under way whose room has not been seen for a grace, and that
-- no live node holds, had its room lost: a node opens it again so that it can end.
ALTER TABLE meetings ADD COLUMN room_seen_at BIGINT;
CREATE INDEX meetings_by_status ON meetings (status);
