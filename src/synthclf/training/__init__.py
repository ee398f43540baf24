"""synthclf.training"""
