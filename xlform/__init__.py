"""xlform: budget performance self-evaluation forms (预算绩效自评表), Excel-native.

generate locked templates from a form spec and a project list, validate and score returned
workbooks, consolidate them for the finance bureau. The CLI (`xlform`) is a thin layer over this API.
"""
__version__ = "0.1.0"
