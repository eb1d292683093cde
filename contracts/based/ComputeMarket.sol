// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {BrainRegistry} from "./BrainRegistry.sol";
import {Network} from "./Network.sol";

/**
 * @title ComputeMarket
 * @notice Paying for prompts (docs/architecture.md §3). A user deposits BASED into a spending account and may
 * authorize apps to open requests on it up to an allowance. A request escrows its maximum cost at
 * the Brain's prices (per 1,000 compute units; a compute unit is one token), rounded up to the wei,
 * within the Brain's context limit and never above the caller's `maxCost` (so a price raised in front
 * of the request refuses it rather than taking more). The Brain's gateway settles it with the miner's EIP-712
 * `Delivery(brainId, jobHash, resultHash)` signature: the cost of the units used (never more than the
 * escrow) is split between the Brain owner (the Brain's owner share of its emission split, rounded
 * down) and the miner (the rest), and what is left of the escrow returns to the account. A request
 * not settled by its deadline can be reclaimed in full by anyone, to the account. The gateway may
 * instead refund a request it did no work for (its session was refused, or closed or expired before
 * any job completed) at once, in full, to the account.
 *
 * Prices and the owner share are copied into the request when it opens, so a later change of the
 * Brain's configuration never touches an open request. Quality is enforced statistically (canaries
 * and replays, through weights and rewards), not per request: the gateway reports the completion
 * units, bounded by the maximum the user escrowed for.
 *
 * A miner's Delivery names the job it was given and what it returned, never a request: miners
 * must not tell validators' canaries (no escrow) from users' paid prompts. The Brain's gateway
 * maps jobs to requests and is trusted to pick the delivery of the right session, as it is
 * trusted to count the units; this contract makes sure a delivery pays one request at most.
 */
contract ComputeMarket is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Where a request is in its life.
    enum Status {
        None,
        Open,
        Settled,
        Reclaimed,
        Refunded
    }

    /**
     * @notice A prompt's escrow. Three slots:
     *  slot 0: [account:160][deadline:64][status:8][ownerBps:16]
     *  slot 1: [promptPricePer1k:128][completionPricePer1k:128]
     *  slot 2: [escrow:96][brainId:64][promptUnits:32][maxCompletionUnits:32][completionUnits:32]
     * @param account The spending account that pays (and gets refunds).
     * @param deadline Unix seconds: settlement up to it, reclaim after it.
     * @param status Open, Settled, Reclaimed or Refunded.
     * @param ownerBps The Brain owner's share of the cost (basis points) when the request opened.
     * @param promptPricePer1k The Brain's prompt price (wei of BASED per 1,000 units) when it opened.
     * @param completionPricePer1k The Brain's completion price when it opened.
     * @param escrow Wei of BASED held for the request (96 bits hold far more than all BASED).
     * @param brainId The Brain that serves it.
     * @param promptUnits Compute units of the prompt.
     * @param maxCompletionUnits The most completion units the escrow pays for.
     * @param completionUnits The completion units settled (0 until settled).
     */
    struct Request {
        address account;
        uint64 deadline;
        Status status;
        uint16 ownerBps;
        uint128 promptPricePer1k;
        uint128 completionPricePer1k;
        uint96 escrow;
        uint64 brainId;
        uint32 promptUnits;
        uint32 maxCompletionUnits;
        uint32 completionUnits;
    }

    /// @notice The longest a request may stay open: one day.
    uint64 public constant MAX_DEADLINE = 1 days;
    /// @notice Prices are per this many compute units.
    uint256 public constant UNITS_PER_PRICE = 1_000;
    /// @notice Basis points of a whole.
    uint256 public constant BPS = 10_000;
    /// @notice An allowance that is never used up (as ERC-20's infinite approval).
    uint256 public constant UNLIMITED_ALLOWANCE = type(uint256).max;
    /**
     * @notice The EIP-712 type a miner signs for a result (protocol/gateway.ts DELIVERY_TYPES): a
     * miner of Brain `brainId` was given the job `jobHash` (protocol/gateway.ts `jobHash`) and
     * returned `resultHash` (`outputsHash`). It names no request, so a miner cannot tell which jobs
     * are paid for; the Brain's gateway names the request at settlement.
     */
    bytes32 public constant DELIVERY_TYPEHASH = keccak256(
        "Delivery(uint256 brainId,bytes32 jobHash,bytes32 resultHash)"
    );

    /// @notice BASED, in which accounts are held and compute is paid.
    IERC20 public immutable based;
    /// @notice The Brains, their wallets, prices, splits and reward recipients.
    BrainRegistry public immutable registry;
    /// @notice The Brains' registered miners.
    Network public immutable network;

    /// @notice The id of the last request opened (ids start at 1; 0 never exists).
    uint256 public lastRequestId;
    mapping(address account => uint256) private _balances;
    mapping(address account => mapping(address app => uint256)) private _allowances;
    /// @dev A Brain's gateway, and the Brain's `BrainRegistry.configEpoch` when it was set: a change of
    /// owner or wallet since (a sale, a re-mint) voids it, as it resets the rest of the configuration.
    struct GatewaySetting {
        address gateway;
        uint64 configEpoch;
    }

    mapping(uint256 brainId => GatewaySetting) private _gateways;
    mapping(uint256 requestId => Request) private _requests;
    /**
     * @notice Whether the Delivery with this EIP-712 digest has settled a request. A delivery names
     * no request, so this record is what stops one delivery from paying two requests.
     */
    mapping(bytes32 digest => bool) public deliveryUsed;

    /// @notice Amounts must be positive.
    error ZeroAmount();
    /// @notice A required address was zero.
    error ZeroAddress();
    /// @notice `account`'s free balance is `balance`, less than the `needed`.
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    /// @notice `app` may not open requests on `account`: its allowance is zero (never authorized or
    /// used up).
    error AppNotAuthorized(address account, address app);
    /// @notice `app`'s allowance on `account` is `allowance`, less than the escrow `needed`.
    error AllowanceExceeded(address account, address app, uint256 allowance, uint256 needed);
    /// @notice Brain `brainId` is not active on the mirror.
    error BrainNotActive(uint256 brainId);
    /// @notice The caller is not the BasedAI wallet of Brain `brainId`.
    error NotBrainWallet(uint256 brainId, address caller);
    /// @notice A request needs at least one prompt unit.
    error ZeroPromptUnits();
    /// @notice Prompt plus maximum completion units (`units`) exceed the Brain's context limit.
    error ContextLimitExceeded(uint256 units, uint32 contextLimit);
    /// @notice The deadline must be after `nowTs` and at most `latest` (now + `MAX_DEADLINE`).
    error InvalidDeadline(uint64 deadline, uint256 nowTs, uint256 latest);
    /// @notice Request `requestId` is `status`, not Open.
    error RequestNotOpen(uint256 requestId, Status status);
    /// @notice Only the gateway of Brain `brainId` (`gateway`; zero: none set) may settle or refund its
    /// requests.
    error NotGateway(uint256 brainId, address caller, address gateway);
    /// @notice Request `requestId`'s deadline `deadline` has passed: it can only be reclaimed.
    error RequestExpired(uint256 requestId, uint64 deadline);
    /// @notice Request `requestId` can be reclaimed only after its deadline `deadline`.
    error RequestNotExpired(uint256 requestId, uint64 deadline);
    /// @notice The request's escrow `cost`, at the Brain's prices now, is above the caller's
    /// `maxCost` (the prices rose after the caller's quote).
    error CostAboveMax(uint256 cost, uint256 maxCost);
    /// @notice `completionUnits` exceed the request's maximum `maxCompletionUnits`.
    error CompletionUnitsAboveMax(uint32 completionUnits, uint32 maxCompletionUnits);
    /// @notice The Delivery was signed by `signer`, which is not a registered miner of Brain `brainId`.
    error NotAMiner(uint256 brainId, address signer);
    /// @notice The Delivery with EIP-712 digest `digest` already settled a request: one delivery
    /// pays one request at most.
    error DeliveryAlreadyUsed(bytes32 digest);

    /// @notice `account` deposited `amount` into its spending account.
    event Deposited(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount` of its free balance.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `account` allows `app` to escrow up to `allowance` for requests.
    event AppAuthorized(address indexed account, address indexed app, uint256 allowance);
    /// @notice `app` escrowed `amount` on `account`'s behalf; `remaining` is left of its allowance.
    event AllowanceSpent(address indexed account, address indexed app, uint256 amount, uint256 remaining);
    /// @notice Brain `brainId`'s requests are settled by `gateway` (zero: none).
    event GatewaySet(uint256 indexed brainId, address indexed gateway);
    /// @notice Request `requestId` escrowed `escrow` of `account` for Brain `brainId` until `deadline`.
    event RequestOpened(
        uint256 indexed requestId,
        address indexed account,
        uint256 indexed brainId,
        uint32 promptUnits,
        uint32 maxCompletionUnits,
        uint256 escrow,
        uint64 deadline
    );
    /// @notice Request `requestId` was delivered by `miner` (job `jobHash`, result `resultHash`): it
    /// cost `cost` (`ownerCut` of it to the Brain owner, the rest to the miner) and `refund` went
    /// back to the account.
    event Settled(
        uint256 indexed requestId,
        address indexed miner,
        uint32 completionUnits,
        uint256 cost,
        uint256 ownerCut,
        uint256 refund,
        bytes32 jobHash,
        bytes32 resultHash
    );
    /// @notice Request `requestId` expired unsettled; its `escrow` went back to `account`.
    event Reclaimed(uint256 indexed requestId, address indexed account, uint256 escrow);
    /// @notice Brain `brainId`'s gateway refunded request `requestId` unserved; its `escrow` went back
    /// to `account`.
    event Refunded(
        uint256 indexed requestId,
        address indexed account,
        uint256 indexed brainId,
        uint256 escrow
    );

    /**
     * @param based_ BASED.
     * @param registry_ The BrainRegistry (Brain wallets, prices, splits, reward recipients).
     * @param network_ The Network (which accounts are a Brain's miners).
     */
    constructor(
        IERC20 based_,
        BrainRegistry registry_,
        Network network_
    ) EIP712("BasedAI ComputeMarket", "1") {
        if (
            address(based_) == address(0) ||
            address(registry_) == address(0) ||
            address(network_) == address(0)
        ) {
            revert ZeroAddress();
        }
        based = based_;
        registry = registry_;
        network = network_;
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice `account`'s free balance (deposited, not escrowed).
    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    /// @notice How much `app` may still escrow on `account`'s behalf.
    function allowance(address account, address app) external view returns (uint256) {
        return _allowances[account][app];
    }

    /// @notice The gateway that settles Brain `brainId`'s requests (zero: none, or none set by the
    /// Brain's current owner and wallet).
    function gatewayOf(uint256 brainId) public view returns (address) {
        GatewaySetting storage g = _gateways[brainId];
        return g.configEpoch == registry.configEpoch(brainId) ? g.gateway : address(0);
    }

    /// @notice Request `requestId` (all zero, status None, if it does not exist).
    function getRequest(uint256 requestId) external view returns (Request memory) {
        return _requests[requestId];
    }

    /// @notice The EIP-712 digest a miner of Brain `brainId` signs to deliver `resultHash` for job
    /// `jobHash`.
    function deliveryDigest(
        uint256 brainId,
        bytes32 jobHash,
        bytes32 resultHash
    ) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DELIVERY_TYPEHASH, brainId, jobHash, resultHash)));
    }

    /**
     * @notice Wei of BASED that `promptUnits` and `completionUnits` cost at these prices (per 1,000
     * units), rounded up: the rule of both the escrow and the settled cost.
     */
    function quote(
        uint128 promptPricePer1k,
        uint128 completionPricePer1k,
        uint32 promptUnits,
        uint32 completionUnits
    ) public pure returns (uint256) {
        // Cannot overflow: each product is below 2^160.
        return
            Math.ceilDiv(
                uint256(promptUnits) * promptPricePer1k + uint256(completionUnits) * completionPricePer1k,
                UNITS_PER_PRICE
            );
    }

    // ──────────────────────────────────────── Spending accounts ────────────────────────────────────────

    /// @notice Moves `amount` BASED from the caller into its spending account (approve it first).
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _balances[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
        based.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Moves `amount` of the caller's free balance back to its wallet.
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 balance = _balances[msg.sender];
        if (balance < amount) revert InsufficientBalance(msg.sender, balance, amount);
        _balances[msg.sender] = balance - amount;
        emit Withdrawn(msg.sender, amount);
        based.safeTransfer(msg.sender, amount);
    }

    /**
     * @notice Lets `app` open requests on the caller's account, escrowing up to `allowance` in all
     * (it replaces the previous allowance; zero revokes; `UNLIMITED_ALLOWANCE` is never used up).
     * Refunds of settled or reclaimed requests do not restore it.
     */
    function authorize(address app, uint256 allowance_) external {
        if (app == address(0)) revert ZeroAddress();
        _allowances[msg.sender][app] = allowance_;
        emit AppAuthorized(msg.sender, app, allowance_);
    }

    // ───────────────────────────────────────────── Brains ─────────────────────────────────────────────

    /**
     * @notice Names the gateway that settles Brain `brainId`'s requests (zero: none, so nothing can
     * be settled and open requests wait for their deadline). Only the Brain's BasedAI wallet, while
     * the Brain is active. It lapses when the Brain's owner or wallet changes (BrainRegistry
     * `configEpoch`): a new owner names its own.
     */
    function setGateway(uint256 brainId, address gateway) external {
        BrainRegistry.Brain memory b = registry.brain(brainId);
        if (!b.active) revert BrainNotActive(brainId);
        if (msg.sender != b.basedWallet) revert NotBrainWallet(brainId, msg.sender);
        _gateways[brainId] = GatewaySetting(gateway, registry.configEpoch(brainId));
        emit GatewaySet(brainId, gateway);
    }

    // ──────────────────────────────────────────── Requests ────────────────────────────────────────────

    /**
     * @notice Opens a request on `account` for Brain `brainId`, escrowing its maximum cost at the
     * Brain's prices now (at most `maxCost`) from the account's free balance. The caller is
     * `account` itself, or an app whose allowance covers the escrow (the allowance goes down by it).
     * The Brain's wallet can change its prices at any time, also in front of a pending request, so
     * the caller passes the escrow it was quoted as `maxCost`: a price raised in between refuses
     * the request (`CostAboveMax`) instead of escrowing the whole balance or allowance.
     * @param account The spending account that pays.
     * @param brainId An active Brain.
     * @param promptUnits Compute units of the prompt (at least 1).
     * @param maxCompletionUnits The most completion units to pay for; with the prompt, within the
     * Brain's context limit (when it has one).
     * @param deadline Unix seconds after now and at most `MAX_DEADLINE` from now.
     * @param maxCost The most wei of BASED the caller agrees to escrow (the quote it showed its
     * user); a lower cost escrows the lower cost.
     * @return requestId The new request's id.
     */
    function openRequest(
        address account,
        uint256 brainId,
        uint32 promptUnits,
        uint32 maxCompletionUnits,
        uint64 deadline,
        uint256 maxCost
    ) external nonReentrant returns (uint256 requestId) {
        (uint128 promptPrice, uint128 completionPrice, uint256 escrow) = _checkRequest(
            brainId,
            promptUnits,
            maxCompletionUnits,
            deadline,
            maxCost
        );
        if (msg.sender != account) _spendAllowance(account, msg.sender, escrow);
        uint256 balance = _balances[account];
        if (balance < escrow) revert InsufficientBalance(account, balance, escrow);
        _balances[account] = balance - escrow;

        (uint16 ownerBps, , ) = registry.split(brainId);
        requestId = ++lastRequestId;
        _requests[requestId] = Request({
            account: account,
            deadline: deadline,
            status: Status.Open,
            ownerBps: ownerBps,
            promptPricePer1k: promptPrice,
            completionPricePer1k: completionPrice,
            // All BASED (MAX_SUPPLY < 2^86) fits; the check only guards against another token.
            escrow: SafeCast.toUint96(escrow),
            // Safe: only ids of active Brains get here, and BrainNFT's ids are below 1,024.
            brainId: uint64(brainId),
            promptUnits: promptUnits,
            maxCompletionUnits: maxCompletionUnits,
            completionUnits: 0
        });
        emit RequestOpened(requestId, account, brainId, promptUnits, maxCompletionUnits, escrow, deadline);
    }

    /**
     * @notice Settles request `requestId` with a result delivered by a miner of its Brain. Only the
     * Brain's gateway, while the request is open and its deadline has not passed. Pays the cost of
     * `completionUnits` (at the request's prices, rounded up, at most the escrow): the owner share to
     * the Brain's reward recipient, the rest to the miner; refunds the rest of the escrow to the
     * account's free balance.
     *
     * The miner's Delivery names the job, not the request (miners must not tell paid jobs from
     * canaries): the gateway picks the delivery of the request's session, as it counts its units.
     * A delivery settles one request at most (`DeliveryAlreadyUsed`), so the gateway cannot be paid
     * twice for one job.
     * @param requestId The request.
     * @param completionUnits Completion units delivered (at most the request's maximum).
     * @param jobHash The job the miner was given (protocol/gateway.ts `jobHash`).
     * @param resultHash The hash of the result (protocol/gateway.ts `outputsHash`).
     * @param minerSignature The miner's EIP-712 `Delivery(brainId, jobHash, resultHash)` signature,
     * for the request's Brain.
     */
    function settle(
        uint256 requestId,
        uint32 completionUnits,
        bytes32 jobHash,
        bytes32 resultHash,
        bytes calldata minerSignature
    ) external nonReentrant {
        Request storage r = _requests[requestId];
        if (r.status != Status.Open) revert RequestNotOpen(requestId, r.status);
        uint256 brainId = r.brainId;
        address gateway = gatewayOf(brainId);
        if (msg.sender != gateway) revert NotGateway(brainId, msg.sender, gateway);
        if (block.timestamp > r.deadline) revert RequestExpired(requestId, r.deadline);
        if (completionUnits > r.maxCompletionUnits) {
            revert CompletionUnitsAboveMax(completionUnits, r.maxCompletionUnits);
        }
        address miner = _deliveringMiner(brainId, jobHash, resultHash, minerSignature);
        // A Brain deactivated since the request opened has no owner to pay: the account reclaims.
        if (!registry.isActive(brainId)) revert BrainNotActive(brainId);

        _pay(requestId, r, brainId, miner, completionUnits, jobHash, resultHash);
    }

    /**
     * @notice Returns the whole escrow of request `requestId` to its account's free balance once its
     * deadline has passed unsettled. Anyone may call it: the funds only ever go to the account.
     */
    function reclaim(uint256 requestId) external {
        Request storage r = _requests[requestId];
        if (r.status != Status.Open) revert RequestNotOpen(requestId, r.status);
        if (block.timestamp <= r.deadline) revert RequestNotExpired(requestId, r.deadline);
        r.status = Status.Reclaimed;
        address account = r.account;
        uint256 escrow = r.escrow;
        _balances[account] += escrow;
        emit Reclaimed(requestId, account, escrow);
    }

    /**
     * @notice Returns the whole escrow of open request `requestId` to its account's free balance at
     * once, before or after its deadline: the gateway served nothing for it (its session was refused,
     * or closed or expired before any job completed). Only the Brain's current gateway, which alone
     * knows whether work was delivered: the account or its app could otherwise take the work and
     * cancel the payment. The request ends Refunded, so it can be neither settled nor reclaimed.
     */
    function refund(uint256 requestId) external nonReentrant {
        Request storage r = _requests[requestId];
        if (r.status != Status.Open) revert RequestNotOpen(requestId, r.status);
        uint256 brainId = r.brainId;
        address gateway = gatewayOf(brainId);
        if (msg.sender != gateway) revert NotGateway(brainId, msg.sender, gateway);
        r.status = Status.Refunded;
        address account = r.account;
        uint256 escrow = r.escrow;
        _balances[account] += escrow;
        emit Refunded(requestId, account, brainId, escrow);
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    /**
     * @dev Checks a new request for Brain `brainId` (active, a prompt, within the context limit,
     * a deadline in range) and returns the Brain's prices now and the request's escrow at them,
     * which must not exceed the caller's `maxCost`.
     */
    function _checkRequest(
        uint256 brainId,
        uint32 promptUnits,
        uint32 maxCompletionUnits,
        uint64 deadline,
        uint256 maxCost
    ) private view returns (uint128 promptPrice, uint128 completionPrice, uint256 escrow) {
        if (!registry.isActive(brainId)) revert BrainNotActive(brainId);
        if (promptUnits == 0) revert ZeroPromptUnits();
        uint32 contextLimit;
        (promptPrice, completionPrice, contextLimit) = registry.pricing(brainId);
        uint256 units = uint256(promptUnits) + maxCompletionUnits;
        if (contextLimit != 0 && units > contextLimit) revert ContextLimitExceeded(units, contextLimit);
        if (deadline <= block.timestamp || deadline > block.timestamp + MAX_DEADLINE) {
            revert InvalidDeadline(deadline, block.timestamp, block.timestamp + MAX_DEADLINE);
        }
        escrow = quote(promptPrice, completionPrice, promptUnits, maxCompletionUnits);
        if (escrow > maxCost) revert CostAboveMax(escrow, maxCost);
    }

    /**
     * @dev The registered miner of Brain `brainId` that signed the Delivery of `resultHash` for job
     * `jobHash`, which is recorded as used. OZ's recover refuses malformed and high-s (malleable)
     * signatures, so a delivery has one signature and one digest; the digest names no request, so
     * the record of used digests is what stops one delivery from settling two requests. Brain
     * `brainId` in the digest stops a miner of two Brains' delivery for one from paying in the other.
     */
    function _deliveringMiner(
        uint256 brainId,
        bytes32 jobHash,
        bytes32 resultHash,
        bytes calldata signature
    ) private returns (address miner) {
        bytes32 digest = deliveryDigest(brainId, jobHash, resultHash);
        if (deliveryUsed[digest]) revert DeliveryAlreadyUsed(digest);
        miner = ECDSA.recover(digest, signature);
        (Network.Role role, ) = network.roleOf(brainId, miner);
        if (role != Network.Role.Miner) revert NotAMiner(brainId, miner);
        deliveryUsed[digest] = true;
    }

    /**
     * @dev Settles open request `r` for `completionUnits`. minerPay + ownerCut + refund == escrow,
     * exactly: the cost is at most the escrow, the owner's share of it rounds down and the miner
     * takes the remainder.
     */
    function _pay(
        uint256 requestId,
        Request storage r,
        uint256 brainId,
        address miner,
        uint32 completionUnits,
        bytes32 jobHash,
        bytes32 resultHash
    ) private {
        uint256 escrow = r.escrow;
        uint256 cost = Math.min(
            escrow,
            quote(r.promptPricePer1k, r.completionPricePer1k, r.promptUnits, completionUnits)
        );
        uint256 ownerCut = (cost * r.ownerBps) / BPS;
        uint256 refund = escrow - cost;
        r.status = Status.Settled;
        r.completionUnits = completionUnits;
        _balances[r.account] += refund;
        emit Settled(requestId, miner, completionUnits, cost, ownerCut, refund, jobHash, resultHash);

        if (ownerCut != 0) based.safeTransfer(registry.rewardRecipient(brainId), ownerCut);
        if (cost != ownerCut) based.safeTransfer(miner, cost - ownerCut);
    }

    /// @dev Takes `amount` from `app`'s allowance on `account`; an unlimited allowance stays so.
    function _spendAllowance(address account, address app, uint256 amount) private {
        uint256 allowed = _allowances[account][app];
        if (allowed == 0) revert AppNotAuthorized(account, app);
        if (allowed == UNLIMITED_ALLOWANCE) return;
        if (allowed < amount) revert AllowanceExceeded(account, app, allowed, amount);
        uint256 remaining = allowed - amount;
        _allowances[account][app] = remaining;
        emit AllowanceSpent(account, app, amount, remaining);
    }
}
