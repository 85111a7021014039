"""The pure core: spec, expressions, layout, figures, rules, findings, money; imports nothing of the project above it."""
