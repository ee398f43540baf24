"""synthclf.analysis"""
