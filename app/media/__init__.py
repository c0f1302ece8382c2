"""Media storage: the signer interface, its backends, the process-wide URL minter and the local
backend's HTTP routes. Only ``app.media.gcs`` may import google-cloud-storage."""
