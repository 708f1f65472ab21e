"""The review queue: scoring output in, reviewer verdicts in, final verdicts and mismatches out.

One module per job (this package re-exports their public names, so
`from feedback.queue import record_verdict` keeps working):

- `ingest`: a scoring job's rows into clips, scores and queue items (`enqueue_scores`, `finish_job`);
- `listing`: filtered, keyset-paged reads, facets, counts, one item's details (`list_queue`, ...);
- `verdicts`: recording a verdict and the final-verdict rule (`record_verdict`, `decide_final`);
- `inputs`: what retraining reads (mismatches, decided clips: `verified_feedback`, ...);
- `jobs`: scoring-job queries for the dashboard (`list_jobs`, `job_scores`, ...);
- `bulk`: a lead confirms a job's confident spoofs at once (`confident_spoofs`, `bulk_confirm_spoofs`);
- `assign`: task distribution (`claim_next`: each clip to as many reviewers as the rule needs).
"""

from feedback.queue.ingest import EnqueueResult, enqueue_scores, finish_job, priority_of
from feedback.queue.inputs import Mismatch, count_decided, count_mismatches, mismatches, verified_feedback
from feedback.queue.jobs import job_score_values, job_scores, list_jobs
from feedback.queue.listing import (
    QueueFacets,
    QueueFilter,
    QueuePage,
    QueueRow,
    item_for_clip,
    item_reviews,
    item_score,
    list_queue,
    queue_counts,
    queue_facets,
)
from feedback.queue.verdicts import (
    DEFINITIVE,
    LEAD_ROLES,
    ConcurrentUpdateError,
    VerdictResult,
    decide_final,
    final_verdict,
    record_verdict,
    required_agreement,
    undo_verdict,
)

__all__ = [
    "DEFINITIVE", "LEAD_ROLES", "ConcurrentUpdateError", "EnqueueResult", "Mismatch", "QueueFacets", "QueueFilter",
    "QueuePage", "QueueRow", "VerdictResult", "count_decided", "count_mismatches", "decide_final", "enqueue_scores",
    "final_verdict", "finish_job", "item_for_clip", "item_reviews", "item_score", "job_score_values", "job_scores",
    "list_jobs", "list_queue", "mismatches", "priority_of", "queue_counts", "queue_facets", "record_verdict",
    "required_agreement", "undo_verdict", "verified_feedback",
]
