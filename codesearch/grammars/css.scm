; Chunk definitions for CSS, top-level blocks only. Most rule sets are a few lines, too small to
; stand alone: only one with four or more entries is a chunk of its own, named by its selectors;
; smaller ones are module code, grouped with their neighbours (on real style sheets: chunks of 9
; lines at the median, rather than 4 with a chunk per rule set or 66 with none). At-rule blocks
; (@media, @supports, @keyframes, @font-face, @layer, ...) are whole chunks, named by their query
; or keyword. All are class-like: a selector's dots must not make a rule set a method, and with
; no function the chunker queries the file in one pass, so anchoring at `stylesheet` stays cheap.
(stylesheet
  [
    (rule_set (selectors) @name (block . (_) . (_) . (_) . (_)) @body) @definition.rule
    (media_statement . (_) @name (block) @body) @definition.media
    (supports_statement . (_) @name (block) @body) @definition.supports
    (keyframes_statement (keyframes_name) @name (keyframe_block_list) @body) @definition.keyframes
    (at_rule (at_keyword) @name (block) @body) @definition.at_rule
  ])
