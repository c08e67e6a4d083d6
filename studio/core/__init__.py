"""The application core, Qt-free: the document and its undoable commands, the preview engine, projects and recovery,
render, annotate, share and doctor use cases. It imports the pipeline, never the ui or the cli."""
