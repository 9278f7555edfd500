"""The paper's two claims, reproducible: residual vs plain training speed (Figs. 21-26) and
residual scaling vs the "dying" of wide residual networks (§3.3, Fig. 20)."""
