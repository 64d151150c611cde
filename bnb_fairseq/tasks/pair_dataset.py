"""A LanguagePairDataset whose two sides may use vocabularies with different special ids.

fairseq's LanguagePairDataset asserts that the source and target dictionaries share their pad, eos and
unk ids, and pads the targets with the source's pad. An encoder and a decoder from different checkpoint
families break both (BERT's [PAD] is 0 and [SEP] 102, RoBERTa's <pad> 1 and </s> 2): here each side is
padded with its own dictionary's pad, so targets and their lengths stay right.
"""

from fairseq.data import LanguagePairDataset, data_utils


def same_special_ids(src_dict, tgt_dict):
    return tgt_dict is None or (src_dict.pad(), src_dict.eos(), src_dict.unk()) == (
        tgt_dict.pad(),
        tgt_dict.eos(),
        tgt_dict.unk(),
    )


class TwoVocabularyPairDataset(LanguagePairDataset):
    def __init__(self, src, src_sizes, src_dict, tgt=None, tgt_sizes=None, tgt_dict=None, **kwargs):
        if kwargs.get("num_buckets"):
            raise ValueError("bucketing (--num-batch-buckets) is not supported here")
        super().__init__(src, src_sizes, src_dict, tgt, tgt_sizes, None, **kwargs)  # None: skip the id assertions
        self.tgt_dict = tgt_dict

    @classmethod
    def of(cls, pair, tgt_dict):
        """The data of ``pair`` (which fairseq built with the source dictionary on both sides) read with the
        target's own dictionary."""
        return cls(
            pair.src,
            pair.src_sizes,
            pair.src_dict,
            pair.tgt,
            pair.tgt_sizes,
            tgt_dict,
            left_pad_source=pair.left_pad_source,
            left_pad_target=pair.left_pad_target,
            shuffle=pair.shuffle,
            input_feeding=pair.input_feeding,
            align_dataset=pair.align_dataset,
            pad_to_multiple=pair.pad_to_multiple,
        )

    def collater(self, samples, pad_to_length=None):
        batch = super().collater(samples, pad_to_length)
        if not batch or batch.get("target") is None or same_special_ids(self.src_dict, self.tgt_dict):
            return batch
        by_id = {int(s["id"]): s["target"] for s in samples}
        targets = [by_id[int(i)] for i in batch["id"]]  # in the batch's (length-sorted) order
        length = None if pad_to_length is None else pad_to_length.get("target")

        def merge(move_eos_to_beginning):
            return data_utils.collate_tokens(
                targets,
                self.tgt_dict.pad(),
                self.tgt_dict.eos(),
                self.left_pad_target,
                move_eos_to_beginning,
                pad_to_length=length,
                pad_to_multiple=self.pad_to_multiple,
            )

        batch["target"] = merge(False)
        if "prev_output_tokens" in batch["net_input"]:
            batch["net_input"]["prev_output_tokens"] = merge(True)
        batch["ntokens"] = sum(len(t) for t in targets)
        return batch
