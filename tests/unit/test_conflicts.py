"""Claims said of the wrong compared thing (tutor/conflicts.py), without the model."""
import pytest

from tutor.conflicts import ConflictKind, compared_terms, find_conflicts, why_not_thing
from tutor.grading import _without


def _weight(word: str) -> float:
    return 3.0  # every word equally telling: the rules, not the IDF, are under test


@pytest.mark.parametrize("question, things", [
    ("Pre-LN 和 Post-LN 有什么区别？", {"Pre-LN", "Post-LN"}),
    ("为什么要用 LayerNorm 而不是 BatchNorm？", {"LayerNorm", "BatchNorm"}),
    ("What is the difference between a process and a thread?", {"process", "thread"}),
    ("greedy、beam search 和 sampling 有什么区别？", {"greedy", "beam search", "sampling"}),
    ("栈和队列有什么区别？", {"栈", "队列"}),
    ("TCP 的流量控制和拥塞控制有什么区别？", {"流量控制", "拥塞控制"}),
    ("Top-k 采样和 top-p（nucleus）采样有什么区别？", {"Top-k", "top-p"}),
    ("How does breadth-first search differ from depth-first search?", {"breadth-first search", "depth-first search"}),
    ("What is a process compared with a thread?", {"process", "thread"}),
    ("How do processes, threads and coroutines differ?", {"processes", "threads", "coroutines"}),
    # three things listed in one run ask about each of them, with or without "difference"
    ("什么是脏读、不可重复读和幻读？", {"脏读", "不可重复读", "幻读"}),
    ("为什么要把数据划分为训练集、验证集和测试集？", {"训练集", "验证集", "测试集"}),
])
def test_the_things_a_question_compares(question, things):
    assert set(compared_terms(question)) == things


@pytest.mark.parametrize("question", [
    "BatchNorm 和 LayerNorm 分别在哪些维度上统计均值和方差？",  # lists what to state, compares nothing
    "RoPE 的原理是什么？",
    "DPO 有哪些优点和局限？",  # asks about qualities, not things
    "什么是均值和方差？",  # two things without a comparison are often one subject
    "Pre-LN 和 Post-LN 用在哪里，warmup 和学习率又怎么设？",  # two runs of two, not a list of four
])
def test_questions_that_compare_nothing(question):
    assert len(compared_terms(question)) < 2


def test_a_coordinator_inside_a_word_joins_nothing():
    assert compared_terms("参与训练的样本数量有什么区别？") == {}  # 参与 is one word
    assert set(compared_terms("TCP/IP 和 UDP 有什么区别？")) == {"TCP/IP", "UDP"}


def test_a_capitalised_name_is_known_by_its_capitals_too():
    assert compared_terms("LayerNorm 和 BatchNorm 有什么区别？")["LayerNorm"] == {"layernorm", "ln"}


def test_a_name_of_three_words_is_known_by_their_initials_too():
    things = compared_terms("How does breadth-first search differ from depth-first search?")
    assert things["breadth-first search"] == {"breadth-first search", "bfs"}
    # two words' initials are too often something else ("bs": batch size); a part that is
    # already an abbreviation gives none ("Pre-LN" and "Post-LN" would both be "pl")
    assert compared_terms("greedy 和 beam search 有什么区别？")["beam search"] == {"beam search"}
    assert compared_terms("Pre-LN 和 Post-LN 有什么区别？")["Pre-LN"] == {"pre-ln"}


NOTE = ("TCP 面向连接，先三次握手再传数据，有确认和重传，保证可靠有序。"
        "UDP 无连接，直接发数据报，开销小、延迟低，适合实时音视频。")
QUESTION = "TCP 和 UDP 有什么区别？"


def test_a_property_said_of_the_other_thing_conflicts_with_the_note():
    answer = "UDP 先三次握手再传数据，保证可靠有序；TCP 开销小、延迟低，适合实时音视频。"
    conflicts = find_conflicts(QUESTION, NOTE, answer, _weight)
    assert [(c.said, c.subject, c.instead, c.note) for c in conflicts] == [
        ("UDP 先三次握手再传数据", "UDP", "TCP", "先三次握手再传数据"),
        ("保证可靠有序", "UDP", "TCP", "保证可靠有序"),
        ("TCP 开销小、延迟低", "TCP", "UDP", "开销小、延迟低"),
        ("适合实时音视频", "TCP", "UDP", "适合实时音视频"),
    ]


def test_the_same_properties_of_the_right_things_do_not_conflict():
    answer = "TCP 要先三次握手再传数据，保证可靠有序；UDP 开销小、延迟低，适合实时音视频。"
    assert find_conflicts(QUESTION, NOTE, answer, _weight) == []


def test_a_clause_without_a_name_is_about_its_sentence_s_subject():
    answer = "UDP 是无连接的，保证可靠有序。"  # the second clause is still about UDP
    assert [c.subject for c in find_conflicts(QUESTION, NOTE, answer, _weight)] == ["UDP"]


def test_the_opposite_said_of_the_other_thing_is_no_conflict():
    note = "Pre-LN 的梯度更稳定，可以不用 warmup 学习率预热。Post-LN 深了容易训崩。"
    question = "Pre-LN 和 Post-LN 有什么区别？"
    assert find_conflicts(question, note, "Post-LN 需要 warmup 学习率预热。", _weight) == []  # agrees
    assert [c.subject for c in find_conflicts(question, note, "Post-LN 不用 warmup 学习率预热。", _weight)] == ["Post-LN"]
    # a negation elsewhere in the note's clause is about something else
    note = "TCP provides reliable ordered delivery. UDP sends independent datagrams with no guarantee of anything."
    said = find_conflicts("TCP vs UDP?", note, "TCP sends independent datagrams.", _weight)
    assert [(c.subject, c.instead) for c in said] == [("TCP", "UDP")]


def test_a_comparison_of_both_things_or_a_name_as_object_is_no_claim_about_one():
    for answer in ("TCP 比 UDP 开销大、延迟高。", "TCP has higher overhead and higher latency than UDP.",
                   "TCP 面向连接，对 UDP 来说开销小、延迟低。"):
        assert find_conflicts(QUESTION, NOTE, answer, _weight) == [], answer


def test_a_name_that_only_qualifies_another_gives_way_to_it():
    note = "进程是资源分配的单位，有独立的地址空间。线程是调度的单位，进程内的线程共享内存和文件。"
    answer = "线程内的进程共享内存和文件。"  # about 进程
    conflicts = find_conflicts("进程和线程有什么区别？", note, answer, _weight)
    assert [(c.subject, c.instead) for c in conflicts] == [("进程", "线程")]


def test_a_clause_that_only_names_a_thing_claims_nothing():
    note = "P-Tuning 也叫 deep prompt tuning，在每一层加可训练的前缀。只在输入层加的是另一种做法。"
    answer = "Prompt Tuning (Lester et al.) 只在输入层加。"  # "Prompt Tuning" shares no claim with "deep prompt tuning"
    assert find_conflicts("P-Tuning 和 Prompt Tuning 有什么区别？", note, answer, _weight) == []


def test_the_subject_is_the_thing_a_clause_starts_with_and_plurals_name_it():
    note = "A process has its own address space. Threads of the same process share its memory and open files."
    answer = "Processes inside the same thread share memory and open files."
    conflicts = find_conflicts("What is the difference between a process and a thread?", note, answer, _weight)
    assert [(c.subject, c.instead) for c in conflicts] == [("process", "thread")]


def test_what_the_note_also_says_of_the_answer_s_own_thing_is_no_conflict():
    note = "TCP 头部有校验和字段，用来检测错误。UDP 头部也有校验和字段，用来检测错误。"
    assert find_conflicts(QUESTION, note, "UDP 头部有校验和字段。", _weight) == []


def test_a_conflict_is_about_the_point_that_holds_its_note_clause_markdown_aside():
    conflict = find_conflicts(QUESTION, "- **TCP** 面向连接，先**三次握手**再传数据。\n- UDP 无连接，开销小。",
                              "UDP 先三次握手再传数据。", _weight)[0]
    assert conflict.note == "先**三次握手**再传数据"
    assert conflict.about("TCP 面向连接，先三次握手再传数据")
    assert not conflict.about("UDP 无连接，开销小") and not conflict.about("")


def test_the_answer_without_its_contradicting_sentences():
    answer = "UDP 无连接，开销小。UDP 先三次握手再传数据. TCP 保证可靠有序。"
    conflicts = find_conflicts(QUESTION, NOTE, answer, _weight)
    assert [c.said for c in conflicts] == ["UDP 先三次握手再传数据"]
    assert _without(answer, conflicts) == "UDP 无连接，开销小。\n TCP 保证可靠有序。"
    assert _without(answer, []) == answer


def test_what_the_note_says_of_a_thing_across_its_clauses_counts_together():
    note = ("Breadth-first search explores a graph level by level using a queue. "
            "Depth-first search follows one branch as deep as possible before backtracking, using a stack.")
    question = "How does breadth-first search differ from depth-first search?"
    answer = "BFS uses a stack and explores as far as possible along each branch."
    conflicts = find_conflicts(question, note, answer, _weight)
    assert [(c.subject, c.instead) for c in conflicts] == [("breadth-first search", "depth-first search")]
    # the clause of the other thing's that says most of the claim is the one cited
    assert conflicts[0].note == "Depth-first search follows one branch as deep as possible before backtracking"
    assert find_conflicts(question, note, "BFS explores level by level using a queue.", _weight) == []


def test_a_claim_that_fits_two_other_things_equally_is_said_of_neither():
    note = "训练集用来拟合参数。验证集用来挑选参数和模型。测试集只在最后评估一次。"
    question = "为什么要把数据划分为训练集、验证集和测试集？"
    assert find_conflicts(question, note, "测试集用来调整参数。", _weight) == []  # 训练集's or 验证集's?
    said = find_conflicts(question, note, "测试集用来挑选参数和模型。", _weight)
    assert [(c.subject, c.instead) for c in said] == [("测试集", "验证集")]


STACK_NOTE = "栈是后进先出的线性表，插入和删除都只在栈顶进行；队列是先进先出的线性表，在队尾插入、在队头删除。"
STACK_QUESTION = "栈和队列有什么区别？"


def test_a_one_character_name_inside_a_longer_word_does_not_name_it():
    # "栈顶" is not "栈": the clause goes on about 栈, so the note says 插入、删除 of both things
    assert find_conflicts(STACK_QUESTION, STACK_NOTE, "栈只能在一端进行插入和删除。", _weight) == []


def test_wei_is_a_negation_too():
    note = "Pre-LN 的梯度更稳定，可以未经 warmup 直接训练。Post-LN 深了容易训崩。"
    question = "Pre-LN 和 Post-LN 有什么区别？"
    assert find_conflicts(question, note, "Post-LN 要经过 warmup 才能训练。", _weight) == []  # agrees
    said = find_conflicts(question, note, "Post-LN 未经 warmup 也能训练。", _weight)
    assert [(c.subject, c.instead) for c in said] == [("Post-LN", "Pre-LN")]


def test_an_abbreviation_names_a_thing_only_in_capitals_and_as_a_whole_word():
    question = "How does compare-and-swap differ from a mutex?"
    note = "Compare-and-swap retries in a loop without blocking. A mutex puts the waiting thread to sleep."
    assert compared_terms(question)["compare-and-swap"] == {"compare-and-swap", "cas"}
    assert find_conflicts(question, note, "Cases of contention put the waiting thread to sleep.", _weight) == []
    said = find_conflicts(question, note, "CAS puts the waiting thread to sleep.", _weight)
    assert [(c.subject, c.instead) for c in said] == [("compare-and-swap", "mutex")]


def test_a_clause_that_mentions_another_thing_inside_a_word_leaves_the_subject_open():
    # the second clause is not about 队列 any more: 出栈、入栈、栈顶 are the stack's
    assert find_conflicts(STACK_QUESTION, STACK_NOTE, "队列先进先出，出栈入栈都只在栈顶进行。", _weight) == []


def test_the_same_words_to_the_opposite_degree_agree_with_the_note():
    for answer in ("TCP 的头部开销与传输延迟都明显更大一些。", "TCP 开销大、延迟高。"):
        assert find_conflicts(QUESTION, NOTE, answer, _weight) == [], answer


def test_a_sentence_that_says_how_two_things_differ_is_about_neither():
    note = "Breadth-first search explores level by level using a queue. Depth-first search goes deep using a stack."
    answer = "DFS differs from BFS in that BFS explores level by level using a queue."
    assert find_conflicts("How does breadth-first search differ from depth-first search?", note, answer, _weight) == []


DIVES_NOTE = ("Breadth-first search widens. Breadth-first search layers. "
              "Depth-first search dives. Depth-first search plunges backtracks.")
DIVES_QUESTION = "How does breadth-first search differ from depth-first search?"


def test_a_claim_may_join_what_the_note_says_of_a_thing_in_two_clauses():
    # "dives" and "backtracks" are in two clauses about DFS: neither alone shares two words
    said = find_conflicts(DIVES_QUESTION, DIVES_NOTE, "BFS dives and backtracks.", _weight)
    assert [(c.subject, c.instead) for c in said] == [("breadth-first search", "depth-first search")]


def test_what_the_note_says_of_the_answer_s_own_thing_counts_across_its_clauses():
    # the claim shares two words with DFS's clauses, and as many with BFS's own two clauses
    answer = "BFS widens and layers and plunges and backtracks."
    assert find_conflicts(DIVES_QUESTION, DIVES_NOTE, answer, _weight) == []


def test_a_claim_must_fit_the_other_thing_clearly_better_than_a_third():
    note = "训练集用来拟合参数。验证集用来挑选参数和模型。测试集只在最后评估一次。"
    question = "为什么要把数据划分为训练集、验证集和测试集？"
    # shares 用来、参数 with 训练集 and 用来、参数、挑选 with 验证集: not clearly either's
    assert find_conflicts(question, note, "测试集用来挑选参数。", _weight) == []


# --- wrong quantities -----------------------------------------------------------------------

QUICKSORT = ("Quicksort's average case is O(n log n). Quicksort's worst case is O(n^2), when the pivot "
             "is always the smallest or largest element.")


def _quantity(note: str, answer: str, question: str = "What is quicksort's running time?"):
    return [(c.subject, c.instead, c.kind.value) for c in find_conflicts(question, note, answer, _weight)]


def test_a_complexity_the_note_gives_otherwise_is_a_conflict():
    assert _quantity(QUICKSORT, "Quicksort's worst case is O(n³) on sorted input.") == [
        ("O(n³)", "O(n^2)", "quantity")]
    # the same class written otherwise: a superscript, words, spaces
    assert _quantity(QUICKSORT, "Quicksort's worst case is O(n²).") == []
    # Chinese input: full-width brackets, no space after the word before
    assert _quantity("快速排序最坏时间复杂度是 O(n^2)。", "快速排序最坏时间复杂度是O（n log n）。", "快排") == [
        ("O(n log n)", "O(n^2)", "quantity")]
    assert _quantity("快速排序最坏时间复杂度是 O(n^2)。", "快速排序最坏时间复杂度是O（n²）。", "快排") == []
    assert _quantity("Both push and pop run in constant time.", "push and pop take O(1) each.",
                     "What is a stack?") == []
    assert _quantity("Both push and pop run in constant time.", "push and pop take O(n) each.",
                     "What is a stack?") == [("O(n)", "constant time", "quantity")]


def test_a_value_the_note_gives_for_the_same_case_anywhere_is_no_conflict():
    # the note gives O(n log n) for the average case, O(n^2) for the worst
    assert _quantity(QUICKSORT, "Quicksort's average case is O(n log n).") == []
    assert _quantity(QUICKSORT, "Quicksort's worst case is O(n log n).") == [("O(n log n)", "O(n^2)", "quantity")]
    # a case the note does not give is not compared with one it gives
    assert _quantity("哈希表查找的平均时间复杂度是 O(1)。", "冲突严重时哈希表查找退化到 O(n)。", "哈希表") == []
    # nor a complexity in other variables (a tree's height)
    assert _quantity("二叉搜索树查找的时间复杂度是 O(log n)。", "二叉搜索树查找的时间复杂度是 O(h)。", "BST") == []


def test_a_negated_clause_or_one_beside_the_note_s_value_is_no_conflict():
    assert _quantity(QUICKSORT, "Quicksort's worst case is not O(n³).") == []
    note = "KV cache 把每步 attention 的计算从 O(n^2) 降到 O(n)。"
    assert _quantity(note, "KV cache 让每步 attention 的计算从 O(n^2) 降到 O(n)。") == []
    assert _quantity(note, "KV cache 让每步 attention 的计算从 O(n^3) 降到 O(n)。") == []
    assert _quantity(note, "KV cache 让每步 attention 的计算降到 O(1)。") == [("O(1)", "O(n^2) / O(n)", "quantity")]


def test_a_quantity_about_something_the_note_does_not_measure_is_no_conflict():
    # no word in common with the note's clause that gives a complexity
    assert _quantity(QUICKSORT, "Merge sort needs O(n) extra memory.") == []
    # words that only name the measure do not make two clauses about the same thing
    assert _quantity("查找的时间复杂度是 O(log n)。", "排序的时间复杂度是 O(n log n)。", "AVL 树") == []


def test_shares_and_other_numbers_are_not_checked():
    # arithmetic and examples: MQA's 1/64 beside the note's GQA example 1/8 is right
    note = "例如 Llama 2 70B 有 64 个 query 头、8 个 KV 头，缓存缩小为 1/8。"
    assert _quantity(note, "GQA 缓存缩小为 1/8。MQA 只有 1 个 KV 头，缓存缩小为 1/64。", "GQA") == []
    assert _quantity("INT4 权重差不多是 FP16 的 1/4。", "INT4 权重是 FP16 的一半。", "INT4") == []


def test_a_complexity_of_another_measure_or_a_bound_is_no_conflict():
    note = "归并排序的时间复杂度是 O(n log n)。"
    assert _quantity(note, "归并排序的时间复杂度是 O(n log n)，归并排序的空间复杂度是 O(n)。", "归并排序") == []
    assert _quantity(note, "归并排序的时间复杂度是 O(n)。", "归并排序") == [("O(n)", "O(n log n)", "quantity")]
    note = "Linformer 的复杂度为 O(nk)。"
    assert _quantity(note, "Linformer 的复杂度低于 O(n²)，是 O(nk)。", "Linformer") == []
    assert _quantity(note, "Linformer costs at most O(n^2).", "Linformer") == []
    heavy = find_conflicts("Linformer", "Linformer costs O(nk).", "Linformer costs at most O(n^2).", lambda word: 5.0)
    assert heavy == []  # however telling the shared words, a bound is not a value
    assert find_conflicts("Linformer", "Linformer costs O(nk).", "Linformer costs mostly O(n^2).", lambda word: 5.0)


@pytest.mark.parametrize("written", ["O(n^2 \\cdot d)", "O(n²d)", "O(d n^2)", "O(n*n*d)", "O(2 n^2 d)"])
def test_one_complexity_written_several_ways_is_no_conflict(written):
    assert _quantity("Self-Attention 的时间复杂度是 $O(n^2 \\cdot d)$。", f"Self-Attention 的时间复杂度是 {written}。",
                     "Self attention") == []


@pytest.mark.parametrize("note, written", [
    ("$O(\\sqrt{n})$ memory for checkpointing.", "O(√n) memory for checkpointing"),
    ("$O(\\sqrt{n})$ memory for checkpointing.", "O(sqrt(n)) memory for checkpointing"),
    ("Merge sort runs in O(n log n).", "Merge sort runs in O(n lg n)"),
    ("Merge sort runs in O(n log n).", "Merge sort runs in O(n log(n))"),
    ("Merge sort runs in O(n log n).", "Merge sort runs in O(nlogn)"),
    ("Binary search runs in O(log n).", "Binary search runs in O(log₂n)"),
    ("BFS runs in O(V + E).", "BFS runs in O(|E| + |V|)"),
])
def test_equivalent_spellings_agree(note, written):
    assert _quantity(note, written + ".") == []


def test_a_clause_about_another_thing_is_no_conflict():
    note = "Standard self-attention is O(n^2) in sequence length."
    assert _quantity(note, "Linear attention is O(n) in sequence length.", "attention") == []
    assert _quantity(note, "Standard self-attention is O(n) in sequence length.", "attention") == [
        ("O(n)", "O(n^2)", "quantity")]
    # a clause of no words of its own takes its sentence's, which must be mostly the note clause's
    note = "每个位置只关注前 W 个位置，单层复杂度为 O(nW)。"
    assert _quantity(note, "Sparse Transformer 让每个位置只关注部分固定位置，复杂度为 O(n√n)。", "稀疏注意力") == []
    assert _quantity(note, "每个位置只关注前 W 个位置，单层复杂度为 O(n^2)。", "滑动窗口") == [("O(n^2)", "O(nW)", "quantity")]


def test_a_value_the_other_reference_gives_is_no_conflict():
    answer = "归并排序的空间复杂度是 O(n)。"
    time_only = "归并排序的时间复杂度是 O(n log n)，空间复杂度是 O(n log n)。"
    assert _quantity(time_only, answer, "归并排序") == [("O(n)", "O(n log n)", "quantity")]
    both = "归并排序需要 O(n) 的额外空间。"
    assert find_conflicts("归并排序", time_only, answer, _weight, (both,)) == []


def test_a_complexity_after_a_colon_takes_the_words_before_it():
    note = "二分查找的时间复杂度是 O(log n)。"
    assert _quantity(note, "二分查找的时间复杂度：O(n)。", "二分查找") == [("O(n)", "O(log n)", "quantity")]
    assert _quantity(note, "二分查找的时间复杂度：O(max(n, m))。", "二分查找") == [("O(max(n, m))", "O(log n)", "quantity")]
    assert _quantity("合并的时间复杂度是 O(n+m)。", "合并的时间复杂度是 O(max(n, m))。", "合并") == []  # the same class
    assert _quantity("每个头的计算量是 O(n^2 d/h)。", "每个头的计算量是 O(n^2 d h)。", "多头") == [
        ("O(n^2 d h)", "O(n^2 d/h)", "quantity")]


def test_a_clause_of_only_the_subject_and_a_quantity_is_matched_by_the_subject():
    # "Self-attention is O(n·d²)": its only word is the subject, however common
    note = "Self-Attention 的时间复杂度是 $O(n^2 \\cdot d)$。"
    assert _quantity(note, "Self-attention is O(n · d²).", "Self attention 的时间复杂度") == [
        ("O(n · d²)", "O(n^2 \\cdot d)", "quantity")]
    assert _quantity(note, "Self-attention is O(n² d).", "Self attention 的时间复杂度") == []


def test_code_in_the_note_is_not_read():
    note = "```python\n# scale: O(n^2) pairs\nscale = 1\n```\n常见设置是 dropout 10%。"
    assert _quantity(note, "scale: O(n) pairs", "dropout") == []


def test_a_wrong_quantity_is_taken_out_of_the_answer_like_a_swap():
    answer = "Quicksort's worst case is O(n³). It picks a pivot."
    conflicts = find_conflicts("What is quicksort's running time?", QUICKSORT, answer, _weight)
    assert _without(answer, conflicts) == "It picks a pivot."
    assert conflicts[0].about("Quicksort's worst case is O(n^2), when the pivot is always the smallest")


BN_NOTE = ("* NLP 里一个batch中不同句子长度不等，补0后对这样的batch做BatchNorm，反而会加大特征的方差\n"
           "* LayerNorm 只在单个 token 内部归一化，没有这些问题。")


def _premises(question: str, answer: str) -> list:
    return [c for c in find_conflicts(question, BN_NOTE, answer, _weight) if c.kind == ConflictKind.PREMISE]


def test_saying_the_thing_works_well_where_the_question_asks_why_it_is_not_used_denies_its_premise():
    answer = "其实 BatchNorm 在 NLP 里效果比 LayerNorm 更好，统计量更稳定。第二句话。"
    conflicts = _premises("为什么NLP不用BN？", answer)
    assert [(c.said, c.subject, c.note) for c in conflicts] == [
        ("其实 BatchNorm 在 NLP 里效果比 LayerNorm 更好", "BN", "NLP 里一个batch中不同句子长度不等，补0后对这样的batch做BatchNorm，反而会加大特征的方差")]
    assert _without(answer, conflicts) == "第二句话。"  # its sentence earns nothing ...
    assert not conflicts[0].about(conflicts[0].note)  # ... and no note point is taken out


@pytest.mark.parametrize("question, answer", [
    ("Why don't NLP models use BatchNorm?", "Actually most NLP models use BatchNorm, it is the standard."),
    ("Why is BatchNorm not used in NLP?", "BatchNorm works better than LayerNorm for NLP."),
    ("Why is BN a poor fit for NLP?", "BatchNorm performs well in NLP."),
    ("为什么 NLP 里很少用 BN？", "NLP 的大模型其实都用 BN。"),
])
def test_the_premise_is_read_from_several_ways_of_asking_why_not(question, answer):
    assert len(_premises(question, answer)) == 1


@pytest.mark.parametrize("answer", [
    "BN 在 CV 里效果很好，但是 NLP 里句子长度不一，padding 会污染统计量。",  # another field
    "BatchNorm works better in CV than in NLP, because images have a fixed size.",  # NLP as the other side
    "BatchNorm 在 NLP 里效果不好，统计量不稳定。",  # negated
    "BatchNorm does not work well in NLP.",
    "LayerNorm 在 NLP 里更稳定，所以大家都用 LayerNorm。",  # about the other thing
])
def test_what_agrees_with_the_premise_or_speaks_of_another_field_is_no_conflict(answer):
    assert _premises("为什么NLP不用BN？", answer) == []


def test_a_question_that_asks_no_why_not_or_names_no_field_has_no_premise_to_deny():
    assert _premises("BN 和 LN 有什么区别？", "BatchNorm 在 NLP 里效果更好。") == []
    assert _premises("为什么不用 BN？", "BatchNorm 效果更好。") == []  # no field: "BN 在 CV 里很好" is often right


def test_the_premise_may_be_the_question_as_asked_rather_than_the_card_s():
    answer = "其实大模型里 Post-LN 更稳定，效果更好。"
    question, note = "Pre-LN 和 Post-LN 有什么区别？", "大模型用 Post-LN 时靠近输出层的梯度很大，必须依赖 warm-up。"
    assert [c for c in find_conflicts(question, note, answer, _weight) if c.kind == ConflictKind.PREMISE] == []
    conflicts = find_conflicts(question, note, answer, _weight, asked="为什么大模型都不用 Post-LN 了？")
    assert [(c.kind, c.subject) for c in conflicts] == [(ConflictKind.PREMISE, "Post-LN")]


@pytest.mark.parametrize("question, answer", [
    ("为什么NLP不用BN？", "LN 比 BN 更适合 NLP，因为 LN 只在单个 token 内部归一化。"),  # BN is what LN is compared with
    ("为什么NLP不用BN？", "所以在 NLP 里 LayerNorm 比 BatchNorm 更稳定。"),
    ("为什么NLP不用BN？", "NLP 里用 LN 替代 BN 效果更好。"),  # what is replaced
    ("为什么NLP不用BN？", "BN 在 CV 里效果很好但在 NLP 里有问题。"),
    ("为什么NLP不用BN？", "有人认为 BN 在 NLP 里效果更好，其实 padding 会污染统计量。"),  # reported, to be rejected
    ("Why is BatchNorm not used in NLP?", "For NLP, LayerNorm replaced BatchNorm because it is more stable."),
    ("Why is BatchNorm not used in NLP?", "Many people think BatchNorm works better in NLP, but padding pollutes it."),
    ("Why is BatchNorm not used in NLP?", "BatchNorm works well for images and poorly for NLP."),
    ("Why is BatchNorm not used in NLP?", "In NLP, unlike in CV where BatchNorm works well, sentence lengths vary."),
    ("Why is BatchNorm not used in NLP?", "BatchNorm is more effective in CV compared to NLP."),
    # the field in an earlier clause of its own: the claim is about CV
    ("为什么NLP不用BN？", "NLP 里序列是变长的，还有大量 padding，BatchNorm 更适合 CV 这种固定尺寸的输入。"),
    ("为什么NLP不用BN？", "在 NLP 里 LN 效果更好，BN 更适合 CV。"),
    ("为什么NLP不用BN？", "除了 NLP，BN 在 CV 里效果很好。"),  # somewhere else
    ("为什么NLP不用BN？", "BN 在 CV 里比在 NLP 里效果更好。"),
    ("Why don't NLP models use BatchNorm?", "BatchNorm works much better in vision than it does in NLP."),
    ("为什么NLP不用BN？", "如果 batch 足够大、序列等长，BN 在 NLP 里效果也会更好一些。"),  # hypothetical
    ("Why don't NLP models use BatchNorm?", "With fixed-length batches, BatchNorm would work fine for NLP."),
    ("为什么NLP不用BN？", "在 NLP 任务上，BN 的改进版 PowerNorm 效果更好。"),  # BN only qualifies PowerNorm
])
def test_a_right_answer_that_compares_replaces_or_reports_the_thing_is_no_conflict(question, answer):
    assert _premises(question, answer) == []


@pytest.mark.parametrize("question, thing", [
    ("为什么NLP不用BN而用LN？", "BN"),  # a name is ASCII: the Chinese after it is not part of it
    ("为什么很少用sigmoid作为激活函数？", "sigmoid"),
    ("Why don't we use MSE loss for classification?", "MSE loss"),  # up to the preposition
    ("Why is batch normalization not used in NLP?", "batch normalization"),
    ("Why aren't RNNs used for long documents anymore?", "RNNs"),
    ("Why don't NLP models use it?", None),  # a pronoun is no name
    ("为什么 Post-LN 不用 warmup 会发散？", None),  # warmup is needed, not unused
    ("Why doesn't Post-LN training converge if we don't use warmup?", None),
    ("BN 和 LN 有什么区别？", None),
])
def test_the_thing_a_why_not_question_asks_about(question, thing):
    assert why_not_thing(question) == thing


def test_a_thing_the_note_never_names_is_not_its_premise():
    # "batch" of "batch normalization" would otherwise flag "Large batch sizes work better for NLP models"
    assert _premises("Why don't NLP models use batch normalization?", "Batch normalization works better in NLP.") == []


def test_what_the_question_says_is_used_instead_is_not_its_field():
    note = "NLP 里现在的大模型用 SwiGLU 而不是 ReLU：SwiGLU 的门控表达能力更强。"
    assert find_conflicts("为什么大模型不用ReLU而用SwiGLU？", note, "ReLU 计算上优于 SwiGLU。", _weight) == []
