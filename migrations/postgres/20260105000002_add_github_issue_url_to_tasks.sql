-- The seed's optional denormalisation: a task's issue link without a join.
ALTER TABLE tasks ADD COLUMN github_issue_url TEXT;

CREATE INDEX idx_tasks_github_issue_url ON tasks(github_issue_url)
    WHERE github_issue_url IS NOT NULL;
