"""synthclf.validation"""
