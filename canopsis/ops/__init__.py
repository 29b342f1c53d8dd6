"""Operations: configuration, paths, install and update, supervisord, schema migrations."""
