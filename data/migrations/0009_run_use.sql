-- When a stored run was last read: ad-hoc runs (other days, other
-- profiles) are pruned least recently used first beyond a budget.
ALTER TABLE analysis_runs ADD COLUMN used_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX analysis_runs_used ON analysis_runs (used_at);
