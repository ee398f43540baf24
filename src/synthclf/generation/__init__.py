"""synthclf.generation"""
