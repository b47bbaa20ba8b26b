"""The PrairieView session model and its builders (public names in :mod:`CalSciPy.bruker.session`).

- :mod:`.master_xml`: parsing of the master XML into plain records;
- :mod:`.model`: :class:`PrairieViewSession`;
- :mod:`.layout_xml` / :mod:`.layout_names`: the session built from the XML, or from the file
  names alone;
- :mod:`.stack`: the lazy per-channel/plane stack and the bulk image reader.
"""
