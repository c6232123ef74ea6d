"""Task handlers: (pipeline, validated request, job context) -> typed result. One module per modality."""
