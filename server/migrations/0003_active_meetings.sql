-- Each node looks, every reconnect grace, for meetings that have started and not ended but
-- whose room no node runs any more; this keeps that look from reading every meeting.
CREATE INDEX meetings_by_status ON meetings (status);
