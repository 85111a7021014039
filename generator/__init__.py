"""juesuan: templates, collection and checks for the yearly 部门决算公开 round."""

__version__ = "0.1.0"
