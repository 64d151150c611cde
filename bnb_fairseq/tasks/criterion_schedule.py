"""fairseq's trainer tells the model the update number but not the criterion; criteria whose loss
follows a schedule (glancing training anneals its ratio) get it from the task's train step."""


class CriterionScheduleMixin:
    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        set_num_updates = getattr(criterion, "set_num_updates", None)
        if set_num_updates is not None:
            set_num_updates(update_num)
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)
