"""What requests carry: decoding images and audio, and the limits checked before any model runs."""
