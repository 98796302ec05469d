"""Experiments, marketing goals and the economics of an automation: what to compute, how to say it.

Pure: counts in, figures and sentences out. The statistics come from maintained libraries
(statsmodels for power and the z-test, scipy for the Beta posteriors and the chi-square test);
this package decides which to call and how to phrase the answer for a marketer.
"""
