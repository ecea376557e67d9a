"""Packages held out of training: the docstring -> function evaluation sets are built from these.

training/fetch.py refuses to fetch them and training/mine.py drops any file whose package matches.
"""

HELD_OUT = {
    ("pypi", "boltons"),
    ("npm", "lodash"),
    ("deb", "golang-github-google-go-github-dev"),
}
