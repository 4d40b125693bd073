"""(placeholder: RNN/LSTM/GRU modules and cells; owned by the recurrent family)"""
__all__ = []
