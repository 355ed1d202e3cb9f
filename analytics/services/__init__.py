"""Analytics: facts derived from the timeline (``fold``), written with every change and by recomputation (``facts``),
read as intervals and KPIs (``reports``) whose formulas live in ``definitions``."""
