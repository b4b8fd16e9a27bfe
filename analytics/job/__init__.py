"""The aggregation job: the run (lock, fill state), storage (every COPY and ORM read and write of
the job in one module), comment release and the Celery tasks. The only reader of the anonymous
side after a cycle closes."""
