"""The paper's two claims at reduced scale: residual vs plain training speed, and residual scaling vs dying."""
