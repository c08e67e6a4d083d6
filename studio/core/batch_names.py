"""What ``studio batch`` shares with its Kubernetes Job and its parser, kept light: the CLI builds its parser from
these without importing the batch machinery (rendering, S3), which every other command would otherwise pay for."""

INDEX_ENV = "JOB_COMPLETION_INDEX"  # set by Kubernetes in each pod of an Indexed Job
COUNT_ENV = "STUDIO_BATCH_SHARDS"  # the Job's completions: Kubernetes does not pass it, the manifest does
BATCH_FORMATS = ("gif", "mp4", "webm", "apng")  # one file per motion (PNG frames and sheets are not)
