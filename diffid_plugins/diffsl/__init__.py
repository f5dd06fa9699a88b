"""DiffSL text -> CompiledModel."""
