"""Model files: the embedded default model (fetched once, checked, imported) and the GGUF
importer (`router import-gguf`) that turns a GGUF file into a folder mlx-lm loads."""
