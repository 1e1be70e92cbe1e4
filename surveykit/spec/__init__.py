"""Frozen data models for the YAML files users edit (questionnaire, later frameworks and targets)."""
from .questionnaire import Item, Label, Node, Questionnaire, Scale, load_questionnaire

__all__ = ["Item", "Label", "Node", "Questionnaire", "Scale", "load_questionnaire"]
